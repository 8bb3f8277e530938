"""Simulators of the systems the bridge talks to (GWS, AMI) and the scenario language."""
