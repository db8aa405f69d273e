"""The fields every result list carries (similar, hum, search, identify, radio): one shape for the CLI and the API."""

from __future__ import annotations

import json
from typing import Any

RESULT_FIELDS = ("id", "path", "title", "artist", "album", "genre", "year", "duration", "dup_group")


def dumps(payload: dict[str, Any]) -> str:
    """JSON for ``--json`` output (stable key order, UTF-8 kept readable)."""
    return json.dumps(payload, ensure_ascii=False, indent=2)
