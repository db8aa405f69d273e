"""System endpoints: ping, license, extensions, the user, music folders, scanning, and the features
tonearm does not have (podcasts via Subsonic, internet radio, shares, chat, video, jukebox).

Those answer what clients can live with: empty lists for lists (DSub calls getBookmarks and
getPodcasts on connect), a failed envelope naming the missing feature for actions.
"""

from __future__ import annotations

from typing import Any

from tonearm.api.subsonic.protocol import GENERIC, NOT_AUTHORIZED, Payload, SubsonicError
from tonearm.api.subsonic.registry import endpoint
from tonearm.api.subsonic.views import Context

MUSIC_FOLDER_ID = 1


def extensions(ctx: Context | None = None) -> list[dict[str, Any]]:
    out = [
        {"name": "formPost", "versions": [1]},
        {"name": "apiKeyAuthentication", "versions": [1]},
        {"name": "sonicSimilarity", "versions": [1]},
        {"name": "topSongsByArtistId", "versions": [1]},
    ]
    if ctx is not None and any(r.get("lyrics") for r in ctx.catalog.songs.values()):
        out.append({"name": "songLyrics", "versions": [1]})
    return out


@endpoint("ping")
def ping(ctx: Context) -> Payload:
    return None


@endpoint("getLicense")
def get_license(ctx: Context) -> Payload:
    return "license", {"valid": True, "email": "", "licenseExpires": None}


@endpoint("getOpenSubsonicExtensions")
def get_extensions(ctx: Context) -> Payload:
    return "openSubsonicExtensions", extensions(ctx)


@endpoint("getMusicFolders")
def get_music_folders(ctx: Context) -> Payload:
    return "musicFolders", {"musicFolder": [{"id": MUSIC_FOLDER_ID, "name": "Music"}]}


ROLES = ("scrobblingEnabled", "adminRole", "settingsRole", "downloadRole", "uploadRole", "playlistRole",
         "coverArtRole", "commentRole", "podcastRole", "streamRole", "jukeboxRole", "shareRole",
         "videoConversionRole")  # fmt: skip
GRANTED = frozenset({"scrobblingEnabled", "adminRole", "settingsRole", "downloadRole", "playlistRole",
                     "coverArtRole", "streamRole"})  # fmt: skip


def _user(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {"username": ctx.user, "email": ""}
    out.update({role: role in GRANTED for role in ROLES})
    out["folder"] = [MUSIC_FOLDER_ID]
    return out


@endpoint("getUser")
def get_user(ctx: Context) -> Payload:
    wanted = ctx.params.get("username") or ctx.user
    if wanted != ctx.user:
        raise SubsonicError(NOT_AUTHORIZED, f"no user {wanted[:40]!r} on this server (it has one: {ctx.user})")
    return "user", _user(ctx)


@endpoint("getUsers")
def get_users(ctx: Context) -> Payload:
    return "users", {"user": [_user(ctx)]}


@endpoint("getScanStatus")
def get_scan_status(ctx: Context) -> Payload:
    return "scanStatus", {"scanning": False, "count": len(ctx.catalog.songs)}


@endpoint("startScan")
def start_scan(ctx: Context) -> Payload:
    started = ctx.scan() if ctx.scan is not None else False  # an index job on the server's folders
    return "scanStatus", {"scanning": started, "count": len(ctx.catalog.songs)}


# Lists tonearm keeps nothing in: empty, well-formed.
@endpoint("getInternetRadioStations")
def get_radio_stations(ctx: Context) -> Payload:
    return "internetRadioStations", {"internetRadioStation": []}


@endpoint("getPodcasts")
def get_podcasts(ctx: Context) -> Payload:
    return "podcasts", {"channel": []}


@endpoint("getNewestPodcasts")
def get_newest_podcasts(ctx: Context) -> Payload:
    return "newestPodcasts", {"episode": []}


@endpoint("getShares")
def get_shares(ctx: Context) -> Payload:
    return "shares", {"share": []}


@endpoint("getChatMessages")
def get_chat(ctx: Context) -> Payload:
    return "chatMessages", {"chatMessage": []}


@endpoint("getVideos")
def get_videos(ctx: Context) -> Payload:
    return "videos", {"video": []}


_MISSING = {
    "createShare": "shares", "updateShare": "shares",
    "deleteShare": "shares", "createInternetRadioStation": "internet radio", "updateInternetRadioStation":
    "internet radio", "deleteInternetRadioStation": "internet radio", "createPodcastChannel": "podcasts",
    "deletePodcastChannel": "podcasts", "deletePodcastEpisode": "podcasts", "downloadPodcastEpisode": "podcasts",
    "refreshPodcasts": "podcasts", "getPodcastEpisode": "podcasts", "addChatMessage": "chat",
    "jukeboxControl": "jukebox", "getVideoInfo": "video", "getCaptions": "video", "hls": "video",
    "createUser": "user management", "updateUser": "user management", "deleteUser": "user management",
    "changePassword": "user management (the secret is tonearm's: `tonearm subsonic rotate`)",
}  # fmt: skip


def _unsupported(feature: str):
    def handler(ctx: Context) -> Payload:
        raise SubsonicError(GENERIC, f"tonearm does not offer {feature} through the Subsonic API")

    return handler


for _name, _feature in _MISSING.items():
    endpoint(_name)(_unsupported(_feature))
