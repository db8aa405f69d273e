"""The fields every result list carries (similar, hum, search, identify, radio): one shape for the CLI and the API."""

from __future__ import annotations

RESULT_FIELDS = ("id", "path", "title", "artist", "album", "genre", "year", "duration", "dup_group")
