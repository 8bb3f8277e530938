"""The Asterisk side: configuration generator (``generator``) and the Debian sid sandbox (``sandbox``)."""
