"""Errors of the AMI adapter: one base class, so callers can catch "AMI said no" in one place."""

from __future__ import annotations


class AmiError(Exception):
    """Base class of every AMI adapter error."""


class AmiActionError(AmiError):
    """Asterisk answered ``Response: Error`` (or an operation could not be verified)."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"AMI {action} failed: {message}")
        self.action = action
        self.message = message


class AmiTimeout(AmiError):
    """No answer (or no confirming event) within the deadline."""

    def __init__(self, action: str, timeout: float) -> None:
        super().__init__(f"AMI {action}: no answer within {timeout:.1f}s")
        self.action = action
        self.timeout = timeout


class AmiNotConnected(AmiError):
    """An action was requested while no logged-in AMI session exists; it was not sent."""


class AmiConnectionLost(AmiError):
    """The AMI session ended while the action was in flight; it is never re-sent."""


class AmiLoginRefused(AmiError):
    """Asterisk refused the AMI user/secret (manager.conf)."""
