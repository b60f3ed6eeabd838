from __future__ import annotations

import stat
from pathlib import Path

import pytest

from agentpod.services.secretbox import PREFIX, SecretBox, SecretError


def test_seal_and_open_round_trip_with_a_private_key_file(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "home" / "secret.key")
    sealed = box.seal("tok-123")
    assert sealed.startswith(PREFIX) and "tok-123" not in sealed
    assert box.open(sealed) == "tok-123"
    assert stat.S_IMODE((tmp_path / "home" / "secret.key").stat().st_mode) == 0o600
    assert SecretBox(tmp_path / "home" / "secret.key").open(sealed) == "tok-123"  # same key


def test_plain_values_from_before_sealing_still_read(tmp_path: Path) -> None:
    assert SecretBox(tmp_path / "k").open("plain-token") == "plain-token"


def test_another_key_cannot_open_and_says_why(tmp_path: Path) -> None:
    sealed = SecretBox(tmp_path / "a").seal("x")
    with pytest.raises(SecretError, match="AGENTPOD_HOME must be the same"):
        SecretBox(tmp_path / "b").open(sealed)
