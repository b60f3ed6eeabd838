"""Parsing human sizes (``1g``, ``512m``) into megabytes."""

from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_FACTOR_MB = {"k": 1 / 1024, "": 1, "m": 1, "g": 1024, "t": 1024 * 1024}


def parse_memory_mb(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"memory {text!r} is not a size: use e.g. 512m or 1.5g")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * _FACTOR_MB[unit])  # a bare number is megabytes
