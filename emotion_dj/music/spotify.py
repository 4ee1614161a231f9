"""Spotify through spotipy (>= 2.26), limited to what a development-mode app may use in 2026.

Endpoints used: GET /me, GET /search (10 results a page, paged with offset), POST /me/playlists,
POST /playlists/{id}/items. Never /recommendations, /audio-features, /users/{id}/playlists,
/playlists/{id}/tracks or the browse endpoints.

Login is Authorization Code with PKCE (no client secret needed; a secret, if given, is used with the
plain Authorization Code flow). Settings come from the environment or a JSON config file:

    SPOTIPY_CLIENT_ID, SPOTIPY_CLIENT_SECRET (optional), SPOTIPY_REDIRECT_URI (default below),
    SPOTIFY_TOKEN_CACHE (default: <config dir>/spotify-token.json, mode 0600),
    SPOTIFY_API_URL / SPOTIFY_ACCOUNTS_URL (default: Spotify's own; tests point them at 127.0.0.1),
    SPOTIFY_TIMEOUT (seconds per request, default 10), SPOTIFY_DEADLINE (seconds for a whole playlist, default 30),
    SPOTIFY_LOGIN_TIMEOUT (seconds to wait for the browser login, default 120),
    EMOTION_DJ_CONFIG (default: <config dir>/config.json with keys client_id, client_secret, redirect_uri).

Tokens and secrets never reach a log line or an error message: spotipy's own debug log (which prints
request headers) is kept off. Nothing the server sends is trusted: items may be null or partial, text is
cleaned of control characters before it reaches a terminal or the HUD, and only Spotify's own https links
(or spotify: URIs) are ever handed to a browser.
"""
from __future__ import annotations

import json
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import requests
import spotipy
from spotipy.cache_handler import CacheFileHandler
from urllib3.util.retry import Retry

from emotion_dj.music import login
from emotion_dj.music.mood import Mood

log = logging.getLogger(__name__)
# spotipy logs request headers (the bearer token) at DEBUG and every HTTP error at ERROR; we report errors ourselves.
logging.getLogger("spotipy").setLevel(logging.CRITICAL)

DEFAULT_API_URL = "https://api.spotify.com/v1/"
DEFAULT_ACCOUNTS_URL = "https://accounts.spotify.com"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8888/callback"
SCOPES = "playlist-modify-private playlist-modify-public"
PAGE_SIZE = 10  # the most a development-mode app's search returns per page in 2026
MAX_RETRY_AFTER = 5.0  # seconds we are willing to wait on one 429 before giving up (bounded retries)
PLAYLIST_URL = re.compile(r"^https://open\.spotify\.com/[A-Za-z0-9/_\-?=&.%]*$")
SPOTIFY_URI = re.compile(r"^spotify:[A-Za-z]+:[A-Za-z0-9]+$")


class MusicError(Exception):
    """A failure the user can act on; the message is one line, safe to show (no token, no secret)."""


def clean(text, limit: int = 120) -> str:
    """Text from the server, safe for a terminal or the HUD: printable characters only, one line, bounded."""
    return "".join(c if c.isprintable() else " " for c in str(text)).strip()[:limit]


def safe_link(url) -> str | None:
    """The URL if it is Spotify's own https link or a spotify: URI; anything else (file:, javascript:...) is None."""
    if isinstance(url, str) and (PLAYLIST_URL.match(url) or SPOTIFY_URI.match(url)):
        return url
    return None


def _number(text, name: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not low <= value <= high:
        raise MusicError(f"{name} must be a number of seconds from {low:g} to {high:g}, got '{clean(text, 40)}'")
    return value


def check_redirect_uri(uri: str) -> str:
    """Spotify's 2026 rules: an explicit loopback address with a port, e.g. http://127.0.0.1:8888/callback."""
    try:
        parsed = urlparse(uri)
        port = parsed.port  # ValueError when out of 0..65535 or not a number
    except ValueError:
        port, parsed = None, None
    if parsed is None or parsed.scheme != "http" or parsed.hostname not in ("127.0.0.1", "::1") or not port:
        raise MusicError(f"SPOTIPY_REDIRECT_URI must be an explicit loopback address with a port "
                         f"(e.g. {DEFAULT_REDIRECT_URI}), got '{clean(uri, 80)}'")
    return uri


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "emotion-dj"


@dataclass(frozen=True)
class SpotifySettings:
    client_id: str | None
    client_secret: str | None
    redirect_uri: str
    token_cache: Path
    api_url: str
    accounts_url: str
    timeout: float = 10.0  # seconds per request
    deadline: float = 30.0  # seconds for a whole playlist (search, create, add)
    login_timeout: float = 120.0  # seconds to wait for the user to log in in the browser

    @property
    def has_credentials(self) -> bool:
        return bool(self.client_id)

    @classmethod
    def load(cls) -> SpotifySettings:
        """Environment first, then the config file, then defaults."""
        config_path = Path(os.environ.get("EMOTION_DJ_CONFIG") or config_dir() / "config.json").expanduser()
        file: dict = {}
        if config_path.is_file():
            try:
                file = json.loads(config_path.read_text())
            except (ValueError, OSError):
                raise MusicError(f"config file {config_path} is not valid JSON") from None
            if not isinstance(file, dict):
                raise MusicError(f"config file {config_path} must hold a JSON object (keys client_id, redirect_uri...)")
        pick = lambda env, key, default=None: os.environ.get(env) or file.get(key) or default  # noqa: E731
        texts = {key: pick(env, key, default) for env, key, default in (
            ("SPOTIFY_API_URL", "api_url", DEFAULT_API_URL), ("SPOTIFY_ACCOUNTS_URL", "accounts_url", DEFAULT_ACCOUNTS_URL),
            ("SPOTIPY_REDIRECT_URI", "redirect_uri", DEFAULT_REDIRECT_URI))}
        if not all(isinstance(v, str) for v in texts.values()):
            raise MusicError(f"config file {config_path}: api_url, accounts_url and redirect_uri must be strings")
        api_url = texts["api_url"]
        cache = pick("SPOTIFY_TOKEN_CACHE", "token_cache", str(config_dir() / "spotify-token.json"))
        for key, value in (("token_cache", cache), ("client_id", pick("SPOTIPY_CLIENT_ID", "client_id", "")),
                           ("client_secret", pick("SPOTIPY_CLIENT_SECRET", "client_secret", ""))):
            if not isinstance(value, str):
                raise MusicError(f"config file {config_path}: {key} must be a string")
        return cls(
            client_id=pick("SPOTIPY_CLIENT_ID", "client_id"),
            client_secret=pick("SPOTIPY_CLIENT_SECRET", "client_secret"),
            redirect_uri=check_redirect_uri(texts["redirect_uri"]),
            token_cache=Path(cache).expanduser(),
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            accounts_url=texts["accounts_url"].rstrip("/"),
            timeout=_number(pick("SPOTIFY_TIMEOUT", "timeout", 10.0), "SPOTIFY_TIMEOUT", 0.5, 300),
            deadline=_number(pick("SPOTIFY_DEADLINE", "deadline", 30.0), "SPOTIFY_DEADLINE", 1, 3600),
            login_timeout=_number(pick("SPOTIFY_LOGIN_TIMEOUT", "login_timeout", 120.0), "SPOTIFY_LOGIN_TIMEOUT", 5, 3600),
        )


class PrivateTokenCache(CacheFileHandler):
    """spotipy's file cache, but the file is created 0600 (owner only) and its folder 0700, and a cache that
    does not hold a token (truncated, garbage, another program's file) is moved aside with a warning instead of
    silently starting a new login."""

    def get_cached_token(self):
        path = Path(self.cache_path)
        if not path.is_file():
            return None
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & 0o077:
            try:
                os.chmod(path, 0o600)
                log.warning("the Spotify token cache %s was readable by others (mode %o): made it private (0600)",
                            path, stat.S_IMODE(mode))
            except OSError:
                log.warning("the Spotify token cache %s is readable by others (mode %o) and cannot be made private",
                            path, stat.S_IMODE(mode))
        try:
            token = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError, UnicodeDecodeError):
            token = None
        if isinstance(token, dict) and isinstance(token.get("access_token"), str):
            return token
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        try:
            path.replace(aside)
            log.warning("the Spotify token cache %s was unreadable; moved it to %s, a new login follows", path, aside.name)
        except OSError:
            log.warning("the Spotify token cache %s is unreadable and cannot be moved; a new login follows", path)
        return None

    def save_token_to_cache(self, token_info: dict) -> None:
        """Written 0600 to a new file beside the cache, then renamed over it: a symlink at the cache's name is
        replaced, never written through, and a reader never sees half a token."""
        path = Path(self.cache_path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(descriptor, 0o600)  # whatever the umask
            with os.fdopen(descriptor, "w", encoding="utf-8") as f:
                json.dump(token_info, f)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


class BoundedRetry(Retry):
    """urllib3's retry, honouring Retry-After but never sleeping longer than MAX_RETRY_AFTER at once."""

    def get_retry_after(self, response):
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


class Spotify(spotipy.Spotify):
    """spotipy's client with a bounded retry policy (429 with Retry-After, 5xx), a configurable base URL, and a
    deadline: once it has passed, no further request starts (PlaylistService stops waiting at the deadline)."""

    def __init__(self, api_url: str = DEFAULT_API_URL, **kwargs):
        kwargs.setdefault("retries", 3)
        kwargs.setdefault("status_retries", 3)
        kwargs.setdefault("requests_timeout", 10)
        super().__init__(**kwargs)
        self.prefix = api_url
        self.deadline: float | None = None  # time.monotonic() after which no request may start

    def _internal_call(self, method, url, payload, params):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise MusicError("Spotify did not finish in time (deadline passed): try again later")
        return super()._internal_call(method, url, payload, params)

    def _build_session(self):
        self._session = requests.Session()
        retry = BoundedRetry(total=self.retries, connect=0, read=False, status=self.status_retries,
                             allowed_methods=frozenset(["GET", "POST"]), backoff_factor=self.backoff_factor,
                             status_forcelist=self.status_forcelist, raise_on_status=False)
        adapter = requests.adapters.HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)


class TimedLogin:
    """Mixed into spotipy's auth managers: the browser login's local redirect listener checks the OAuth `state`
    (music/login.py), waits `login_timeout` seconds, not forever, tells the user what to do first, and a
    busy port is a clear error."""

    login_timeout: float = 120.0
    notify: Callable[[str], None] = staticmethod(lambda message: log.warning("%s", message))

    def _get_auth_response_local_server(self, redirect_port):
        self.state = login.new_state()  # a fresh one per login; spotipy puts self.state in the authorize URL
        try:
            server = login.open_listener(redirect_port, urlparse(self.redirect_uri).path, self.state)
        except OSError as error:
            raise MusicError(f"cannot listen for the Spotify login on 127.0.0.1:{redirect_port} ({error.strerror}): "
                             "close what uses that port, or set SPOTIPY_REDIRECT_URI to another port "
                             "(and add it in the Spotify dashboard)") from None
        self.notify(f"log in to Spotify in the browser window that opened (waiting up to {self.login_timeout:g} s)")
        try:
            self._open_auth_url()
        except Exception:
            server.server_close()
            raise
        try:
            return login.wait_for_code(server, self.login_timeout)
        except login.LoginError as error:
            hint = (": press P again and log in in the browser window, or run 'run_edge.py playlist --mood happy' "
                    "once in a terminal") if "timed out" in str(error) else ""
            raise MusicError(clean(f"{error}{hint}", 300)) from None


class TimedPKCE(TimedLogin, spotipy.SpotifyPKCE):
    pass


class TimedOAuth(TimedLogin, spotipy.SpotifyOAuth):
    pass


def auth_manager(settings: SpotifySettings, open_browser: bool = True, notify: Callable[[str], None] | None = None):
    if not settings.has_credentials:
        raise MusicError("no Spotify credentials: set SPOTIPY_CLIENT_ID (see README, 'Spotify')")
    common = dict(client_id=settings.client_id, redirect_uri=settings.redirect_uri, scope=SCOPES,
                  cache_handler=PrivateTokenCache(cache_path=str(settings.token_cache)), open_browser=open_browser,
                  requests_timeout=settings.timeout)
    if settings.client_secret:
        manager = TimedOAuth(client_secret=settings.client_secret, **common)
    else:
        manager = TimedPKCE(**common)
    manager.login_timeout = settings.login_timeout
    if notify is not None:
        manager.notify = notify
    # Instance attributes override spotipy's class constants, so a local test server can stand in for Spotify.
    manager.OAUTH_AUTHORIZE_URL = f"{settings.accounts_url}/authorize"
    manager.OAUTH_TOKEN_URL = f"{settings.accounts_url}/api/token"
    return manager


def connect(settings: SpotifySettings, open_browser: bool = True, notify: Callable[[str], None] | None = None) -> Spotify:
    return Spotify(api_url=settings.api_url, auth_manager=auth_manager(settings, open_browser, notify),
                   requests_timeout=settings.timeout)


@dataclass(frozen=True)
class Playlist:
    id: str
    name: str
    url: str
    tracks: int
    asked: int  # tracks asked for; more than `tracks` when search found too few


def collect_tracks(client: Spotify, queries: tuple[str, ...], count: int, max_pages: int = 5) -> list[str]:
    """`count` unique track URIs, round-robin over the queries, one 10-result page at a time.

    Unique means a new URI and a new (title, first artist): the same song often exists as several releases.
    """
    uris: list[str] = []
    seen: set[tuple[str, str]] = set()
    exhausted: set[str] = set()
    for page in range(max_pages):
        for query in queries:
            if len(uris) >= count:
                return uris
            if query in exhausted:
                continue
            result = client.search(q=query, type="track", limit=PAGE_SIZE, offset=page * PAGE_SIZE)
            items = ((result or {}).get("tracks") or {}).get("items") or []
            if len(items) < PAGE_SIZE:
                exhausted.add(query)
            for track in items:
                if not isinstance(track, dict) or not isinstance(track.get("uri"), str) \
                        or not SPOTIFY_URI.match(track["uri"]) or not isinstance(track.get("name"), str):
                    continue  # a null or partial item: skip it, keep the rest of the page
                artists = track.get("artists") or [{}]
                artist = artists[0].get("name", "") if isinstance(artists[0], dict) else ""
                key = (track["name"].lower(), str(artist).lower())
                if track["uri"] in uris or key in seen:
                    continue
                seen.add(key)
                uris.append(track["uri"])
                if len(uris) >= count:
                    return uris
    return uris


def create_playlist(client: Spotify, mood: Mood, tracks: int = 20, public: bool = False,
                    now: datetime | None = None) -> Playlist:
    client.me()  # fail early, before any search, if the login is not valid
    uris = collect_tracks(client, mood.queries, tracks)
    if not uris:
        raise MusicError(f"Spotify search found no tracks for '{mood.title}'")
    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H:%M")
    name = f"Emotion DJ: {mood.title} ({stamp})"
    description = f"{mood.title} for a {mood.emotion} room, picked by Emotion DJ from your expression. {mood.why}"
    playlist = client.current_user_playlist_create(name, public=public, description=description[:300])
    playlist_id = playlist.get("id") if isinstance(playlist, dict) else None
    if not isinstance(playlist_id, str) or not re.fullmatch(r"[A-Za-z0-9]+", playlist_id):
        raise MusicError("Spotify answered the playlist creation without a usable playlist id")
    for start in range(0, len(uris), 100):  # the endpoint takes at most 100 items per call
        client.playlist_add_items(playlist_id, uris[start:start + 100])
    url = safe_link((playlist.get("external_urls") or {}).get("spotify")) or f"https://open.spotify.com/playlist/{playlist_id}"
    return Playlist(playlist_id, name, url, len(uris), tracks)


def explain(error: Exception) -> str:
    """One line for the HUD or the CLI, for anything talking to Spotify can raise."""
    if isinstance(error, MusicError):
        return str(error)
    if isinstance(error, spotipy.SpotifyException):
        status = error.http_status
        if status == 401:
            return "Spotify rejected the login (401): delete the token cache and log in again"
        if status == 403:
            return "Spotify refused the request (403): is your account on the app's user list in the dashboard?"
        if status == 429:
            return "Spotify is rate-limiting this app (429): wait a minute and try again"
        if status and status >= 500:
            return f"Spotify is having trouble ({status}): try again later"
        lines = str(error.msg).splitlines() or [""]
        return f"Spotify error {status}: {clean(lines[-1])}"
    if isinstance(error, spotipy.SpotifyOauthError):
        return f"Spotify login failed: {clean(getattr(error, 'error_description', None) or getattr(error, 'error', None) or 'no token')}"
    if isinstance(error, EOFError):  # spotipy fell back to asking for the redirect URL on a stdin that is closed
        return "not logged in to Spotify and no browser/terminal to log in with: run 'run_edge.py playlist' in a terminal once"
    if isinstance(error, requests.Timeout):
        return "Spotify did not answer in time (timeout): check the connection and try again"
    if isinstance(error, requests.ConnectionError):
        return "cannot reach Spotify (offline?)"
    if isinstance(error, requests.RequestException):
        return f"network error talking to Spotify: {type(error).__name__}"
    return f"unexpected error talking to Spotify: {type(error).__name__}"
