"""Password hashes: argon2id (argon2-cffi's defaults, RFC 9106's second recommendation)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


@cache
def _decoy() -> str:
    return _hasher.hash("no such user: a hash to spend the same time on")


def spend_verify_time(password: str) -> None:
    """As long as a real check: an unknown user name must not answer faster than a known one."""
    verify_password(_decoy(), password)
