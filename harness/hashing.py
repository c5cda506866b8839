"""Stable short hashes of config data (cache keys, track versions)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(obj: Any, length: int = 12) -> str:
    """SHA-256 of the JSON of `obj` with sorted keys (non-JSON values as str), cut to `length` hex digits."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]
