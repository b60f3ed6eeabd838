"""Pod tokens at rest: sealed with a key kept in the data dir, never in the database, so a
dump or backup of the database alone does not hand out every tenant's gateway token.

Uses Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``: PostgreSQL's embedded build has
no pgcrypto, and a hand-rolled cipher is not an option.
"""

from __future__ import annotations

import os
from pathlib import Path

PREFIX = "enc:v1:"


class SecretError(RuntimeError):
    pass


class SecretBox:
    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._fernet = None
        self._raw: bytes | None = None

    def _cipher(self):  # -> cryptography.fernet.Fernet (imported lazily: CLI start-up time)
        if self._fernet is None:
            from cryptography.fernet import Fernet

            self._fernet = Fernet(self.key())
        return self._fernet

    def key(self) -> bytes:
        """The key, made (0600) on first use."""
        try:
            return self.key_file.read_bytes().strip()
        except FileNotFoundError:
            pass
        from cryptography.fernet import Fernet

        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        try:
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return self.key_file.read_bytes().strip()
        with os.fdopen(fd, "wb") as fh:
            fh.write(key + b"\n")
        home = self.key_file.parent.stat()
        if os.geteuid() == 0 and home.st_uid != 0:  # root CLI, service user's data dir
            os.chown(self.key_file, home.st_uid, home.st_gid)
        return key

    def derive(self, purpose: str, text: str) -> str:
        """A keyed hash of ``text`` (HMAC-SHA256 under this key, URL-safe): a secret derived
        from a sealed one, stored nowhere, useless without the key file."""
        import base64
        import hashlib
        import hmac

        if self._raw is None:
            self._raw = self.key()
        mac = hmac.new(self._raw, f"{purpose}\0{text}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def seal(self, text: str) -> str:
        return PREFIX + self._cipher().encrypt(text.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # written before tokens were sealed
        from cryptography.fernet import InvalidToken

        try:
            return self._cipher().decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretError(
                f"cannot decrypt a pod token with {self.key_file}: is it the key this database "
                "was written with? (AGENTPOD_HOME must be the same for the CLI and serve)"
            ) from None
