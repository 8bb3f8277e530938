"""Benchmarks (figures are printed, never asserted). Run from the repository root:

    python -m bench.run [--quick] [--only NAME ...] [--markdown]
"""
