"""The Subsonic wire format: request parameters, one response structure, two encodings.

Handlers return a payload such as ``("albumList2", {"album": [...]})``; this module wraps it in
the ``subsonic-response`` envelope and renders it as JSON, JSONP or XML by the rules the
OpenSubsonic spec and Navidrome's golden files show:

* JSON keeps native types (ints stay ints, booleans stay booleans), drops ``None``, and a list
  is always an array (with one item or none: clients break otherwise);
* XML puts scalars in attributes (booleans as ``true``/``false``), dicts in child elements, lists
  in repeated elements, a ``value`` key in the element's text (genres, lyrics lines), and the
  few scalars the spec makes elements (``similarity`` of a ``sonicMatch``) in child elements.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

API_VERSION = "1.16.1"
SERVER_NAME = "tonearm"
XMLNS = "http://subsonic.org/restapi"
TEXT_KEYS = frozenset({"value"})
CHILD_SCALARS = frozenset({"similarity", "biography"})
_CALLBACK = re.compile(r"^[A-Za-z_$][\w$]{0,63}(\.[A-Za-z_$][\w$]{0,63}){0,3}$")

# Error codes (OpenSubsonic "error" response).
GENERIC, MISSING_PARAMETER, CLIENT_TOO_OLD, SERVER_TOO_OLD = 0, 10, 20, 30
WRONG_CREDENTIALS, TOKEN_NOT_SUPPORTED, MECHANISM_NOT_SUPPORTED, CONFLICTING_AUTH, INVALID_API_KEY = 40, 41, 42, 43, 44
NOT_AUTHORIZED, NOT_FOUND = 50, 70

Payload = tuple[str, Any] | None  # (element name, content) or None for an empty "ok"


class SubsonicError(Exception):
    """An error answered as a failed envelope (HTTP 200, as the protocol wants)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Params:
    """A request's parameters: the query string and a form-encoded body, repeated keys kept."""

    def __init__(self, query: list[tuple[str, str]], body: bytes = b"", content_type: str = "") -> None:
        items = list(query)
        if body and "application/x-www-form-urlencoded" in content_type.lower():
            try:
                items += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=10000)
            except ValueError:
                raise SubsonicError(GENERIC, "the form body has too many fields") from None
        self._items = items

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self._items:
            if key == name:
                return value
        return default

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None or value == "":
            raise SubsonicError(MISSING_PARAMETER, f"required parameter is missing: {name}")
        return value

    def all(self, name: str) -> list[str]:
        return [v for k, v in self._items if k == name and v != ""]

    def integer(self, name: str, default: int | None = None, low: int | None = None, high: int | None = None) -> int:
        raw = self.get(name)
        if raw is None or raw == "":
            if default is None:
                raise SubsonicError(MISSING_PARAMETER, f"required parameter is missing: {name}")
            return default
        try:
            value = int(float(raw)) if re.fullmatch(r"-?\d+(\.\d+)?", raw.strip()) else int(raw)
        except (ValueError, OverflowError):
            raise SubsonicError(GENERIC, f"parameter {name} must be a whole number, not {raw[:40]!r}") from None
        if low is not None:
            value = max(low, value)
        if high is not None:
            value = min(high, value)
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        return raw.strip().lower() in ("1", "true", "yes", "on")

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self._items)


def envelope(status: str = "ok", version: str = API_VERSION) -> dict[str, Any]:
    from tonearm import __version__

    return {"status": status, "version": version, "type": SERVER_NAME, "serverVersion": __version__,
            "openSubsonic": True}  # fmt: skip


def _clean(value: Any) -> Any:
    """JSON form: None dropped everywhere, tuples as lists."""
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value if v is not None]
    return value


def to_json(payload: Payload, status: str = "ok", error: SubsonicError | None = None) -> str:
    body = envelope(status)
    if error is not None:
        body["error"] = {"code": error.code, "message": error.message}
    elif payload is not None:
        name, content = payload
        body[name] = _clean(content)
    return json.dumps({"subsonic-response": body}, ensure_ascii=False, separators=(",", ":"))


def to_jsonp(payload: Payload, callback: str, status: str = "ok", error: SubsonicError | None = None) -> str:
    if not _CALLBACK.match(callback or ""):
        raise SubsonicError(GENERIC, "callback must be a JavaScript identifier")
    return f"{callback}({to_json(payload, status, error)});"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value != int(value) else str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    return _XML_BAD.sub("\ufffd", _scalar(value))


def _fill(element: ET.Element, content: Mapping[str, Any]) -> None:
    for key, value in content.items():
        if value is None:
            continue
        if key in TEXT_KEYS and not isinstance(value, (Mapping, list, tuple)):
            element.text = _text(value)
        elif isinstance(value, Mapping):
            _fill(ET.SubElement(element, key), value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if item is None:
                    continue
                child = ET.SubElement(element, key)
                if isinstance(item, Mapping):
                    _fill(child, item)
                else:
                    child.text = _text(item)
        elif key in CHILD_SCALARS:
            ET.SubElement(element, key).text = _text(value)
        else:
            element.set(key, _text(value))


def to_xml(payload: Payload, status: str = "ok", error: SubsonicError | None = None) -> bytes:
    root = ET.Element("subsonic-response", {"xmlns": XMLNS})
    for key, value in envelope(status).items():
        root.set(key, _scalar(value))
    if error is not None:
        ET.SubElement(root, "error", {"code": str(error.code), "message": _text(error.message)})
    elif payload is not None:
        name, content = payload
        if isinstance(content, (list, tuple)):  # a top-level list (sonicMatch): repeated elements
            _fill(root, {name: content})
        else:
            _fill(ET.SubElement(root, name), content or {})
    return b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="utf-8")
