"""Who may use the Subsonic API: one user, a secret that is never a login password, and an API key.

Token authentication (``t = md5(secret + salt)``) needs the secret in plain text on the server,
so it must not be any password the user has elsewhere: tonearm generates it. Where it comes
from, first hit wins: ``$TONEARM_SUBSONIC_SECRET``; the one stored with the library
(``<library>/subsonic.json``, mode 0600; for a PostgreSQL library, a file of that name under
tonearm's config folder); else a new one is generated, stored and printed at start.
``tonearm subsonic show`` prints it and ``tonearm subsonic rotate`` replaces it.

Accepted: ``u`` + ``p`` (plain or ``enc:`` + hex), ``u`` + ``t`` + ``s``, or ``apiKey`` alone
(the ``apiKeyAuthentication`` extension). Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from tonearm.api.subsonic.protocol import (
    CONFLICTING_AUTH,
    INVALID_API_KEY,
    MISSING_PARAMETER,
    WRONG_CREDENTIALS,
    Params,
    SubsonicError,
)
from tonearm.errors import TonearmError

DEFAULT_USER = "tonearm"
FILE_NAME = "subsonic.json"


@dataclass(frozen=True)
class Credentials:
    user: str
    secret: str
    api_key: str


def credentials_file(library: str) -> Path:
    """Where a library's Subsonic secret is kept."""
    if "://" not in library:
        return Path(library) / FILE_NAME
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "tonearm"
    digest = hashlib.blake2b(library.encode(), digest_size=8).hexdigest()
    return base / f"subsonic-{digest}.json"


def _new_secret() -> str:
    return secrets.token_urlsafe(15)  # 20 url-safe characters


def _write(path: Path, data: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)
    os.chmod(path, 0o600)


def load(library: str, user: str | None = None, create: bool = True) -> tuple[Credentials, bool]:
    """The library's credentials and whether they were just generated (to print them once)."""
    path = credentials_file(library)
    stored: dict[str, str] = {}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise TonearmError(f"cannot read the Subsonic credentials in {path}: {exc}") from None
    created = False
    if not stored.get("secret") or not stored.get("api_key"):
        if not create:
            raise TonearmError(
                "no Subsonic secret yet: start `tonearm serve --subsonic` or run `tonearm subsonic rotate`"
            )
        stored = {"secret": stored.get("secret") or _new_secret(), "api_key": stored.get("api_key") or _new_secret()}
        try:
            _write(path, stored)
            created = True
        except OSError as exc:
            if not os.environ.get("TONEARM_SUBSONIC_SECRET"):
                hint = " (set $TONEARM_SUBSONIC_SECRET to serve a read-only library)" if exc.errno == 30 else ""
                raise TonearmError(f"cannot store the Subsonic secret in {path}: {exc.strerror}{hint}") from None
            # A read-only library with the secret given: the API key lives as long as this process.
    secret = os.environ.get("TONEARM_SUBSONIC_SECRET") or stored["secret"]
    return Credentials(user or DEFAULT_USER, secret, stored["api_key"]), created


def rotate(library: str, api_key: bool = False) -> Credentials:
    """A new secret (or a new API key), stored; the old one stops working at the server's next start."""
    path = credentials_file(library)
    current, _ = load(library)
    data = {
        "secret": current.secret if api_key else _new_secret(),
        "api_key": _new_secret() if api_key else current.api_key,
    }
    try:
        _write(path, data)
    except OSError as exc:
        raise TonearmError(f"cannot store the Subsonic secret in {path}: {exc.strerror}") from None
    return Credentials(current.user, data["secret"], data["api_key"])


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))


def _decode_password(p: str) -> str:
    if p.startswith("enc:"):
        try:
            return bytes.fromhex(p[4:]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise SubsonicError(WRONG_CREDENTIALS, "wrong username or password") from None
    return p


def check(params: Params, creds: Credentials) -> None:
    """Raise SubsonicError unless the request carries valid credentials."""
    api_key = params.get("apiKey")
    user = params.get("u")
    if api_key is not None:
        if user:
            raise SubsonicError(CONFLICTING_AUTH, "give either apiKey or u with a password or token, not both")
        if not _same(api_key, creds.api_key):
            raise SubsonicError(INVALID_API_KEY, "invalid API key")
        return
    if not user:
        raise SubsonicError(MISSING_PARAMETER, "required parameter is missing: u (or apiKey)")
    token, salt, password = params.get("t"), params.get("s"), params.get("p")
    if token is not None:
        if password is not None:
            raise SubsonicError(CONFLICTING_AUTH, "give either a password or a token, not both")
        if not salt:
            raise SubsonicError(MISSING_PARAMETER, "required parameter is missing: s (the token's salt)")
        expected = hashlib.md5((creds.secret + salt).encode("utf-8")).hexdigest()
        ok = _same(token.lower(), expected)
    elif password is not None:
        ok = _same(_decode_password(password), creds.secret)
    else:
        raise SubsonicError(MISSING_PARAMETER, "required parameter is missing: p or t and s")
    if not (ok and _same(user, creds.user)):
        raise SubsonicError(WRONG_CREDENTIALS, "wrong username or password")
