"""Small helpers shared by the store modules."""

from __future__ import annotations

from typing import Any


def new_id(result: Any) -> int:
    """The primary key of the row an INSERT just created."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every table here has an integer key
        raise RuntimeError("insert returned no primary key")
    return int(key[0])
