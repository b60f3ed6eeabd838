"""Accounts: users, sessions and API keys; who the caller of the API is."""

from __future__ import annotations


class AccountError(ValueError):
    """Bad input about an account: the message says what was wrong and what to do."""


class Unauthenticated(RuntimeError):
    """No credentials, or credentials that are wrong, expired or revoked."""


class Forbidden(RuntimeError):
    """The caller is known but lacks the right (never used to hide another tenant: 404)."""


class Throttled(RuntimeError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
