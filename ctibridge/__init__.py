"""ctibridge: joins Genesys GWS and Asterisk AMI views of each agent call into one unified state."""

__version__ = "0.1.0"
