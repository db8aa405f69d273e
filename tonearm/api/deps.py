"""What every endpoint shares: the server settings, the store (opened per request), the token check for writes."""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from tonearm.errors import TonearmError
from tonearm.store import open_store
from tonearm.store.base import Store


@dataclass
class ServerConfig:
    library: str
    roots: list[str] = field(default_factory=list)  # folders index jobs may scan
    host: str = "127.0.0.1"
    token: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    max_upload_mb: int = 50
    workers: int = 1
    media_dir: str | None = None  # where URL and feed downloads go (default: <library>/media)
    max_disk_mb: int | None = None
    subsonic: bool = False  # the OpenSubsonic API at /rest (players)
    subsonic_user: str = "tonearm"

    @property
    def requires_token(self) -> bool:
        try:
            return not ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host != "localhost"


def get_store(request: Request) -> Store:
    """The library's store, opened per request (cheap; safe alongside a running index job)."""
    try:
        return open_store(request.app.state.config.library, create=False)
    except TonearmError as exc:
        raise HTTPException(503, f"library unavailable: {exc}") from None


def require_token(request: Request) -> None:
    """Uploads and writes need the server's token when it is bound off loopback."""
    config: ServerConfig = request.app.state.config
    if not config.requires_token:
        return
    given = request.headers.get("x-tonearm-token") or ""
    auth = request.headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not config.token or not hmac.compare_digest(given.encode(), config.token.encode()):
        raise HTTPException(401, "this server needs its token for uploads and writes")


def get_config(request: Request) -> ServerConfig:
    return request.app.state.config


StoreDep = Annotated[Store, Depends(get_store)]
ConfigDep = Annotated[ServerConfig, Depends(get_config)]
Token = Depends(require_token)
