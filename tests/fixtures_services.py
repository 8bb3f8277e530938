"""pytest plugin: see tests/conftest.py."""
