"""Spotify through spotipy (>= 2.26), limited to what a development-mode app may use in 2026.

Endpoints used: GET /me, GET /search (10 results a page, paged with offset), GET /me/top/{artists,tracks},
/me/player/recently-played, GET /me/playlists and GET /playlists/{id}/items of the listener's own (their world,
with their consent), POST /me/playlists, POST /playlists/{id}/items.
Never /recommendations, /audio-features, related artists, artist top tracks, the multi-id gets,
/users/{id}/playlists, /playlists/{id}/tracks or the browse endpoints.

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
from pathlib import Path
from urllib.parse import urlparse

import requests
import spotipy
from spotipy.cache_handler import CacheFileHandler
from urllib3.util.retry import Retry

from emotion_dj.core.errors import UserError
from emotion_dj.core.files import read_setting_file
from emotion_dj.core.paths import config_root
from emotion_dj.music import login
from emotion_dj.music.lastfm import LastfmSettings
from emotion_dj.music.store import StoreError

log = logging.getLogger(__name__)
# spotipy logs request headers (the bearer token) at DEBUG and every HTTP error at ERROR; urllib3 warns at every
# retry ("Retrying ... after connection broken by SSLError"): we report errors ourselves, in one line.
logging.getLogger("spotipy").setLevel(logging.CRITICAL)
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
CONFIG_LIMIT = 1024 * 1024  # bytes of config.json

DEFAULT_API_URL = "https://api.spotify.com/v1/"
DEFAULT_ACCOUNTS_URL = "https://accounts.spotify.com"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8888/callback"
BASE_SCOPES = "playlist-modify-private playlist-modify-public"
# the listener's world, asked for once; without them playlists use Last.fm's tags (with a key) and discovery only
TASTE_SCOPES = "user-top-read user-read-recently-played playlist-read-private playlist-read-collaborative"
SCOPES = f"{BASE_SCOPES} {TASTE_SCOPES}"
PAGE_SIZE = 10  # the most a development-mode app's search returns per page in 2026
MAX_RETRY_AFTER = 5.0  # seconds we are willing to wait on one 429 before giving up (bounded retries)
RATE_LIMIT_RETRIES = 3  # 429s retried per request (each after its Retry-After, capped); a quota 429 never is
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
    return config_root()


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
    lastfm: object = None  # music/lastfm.py's LastfmSettings, with LASTFM_API_KEY (or lastfm_api_key); None: off

    @property
    def has_credentials(self) -> bool:
        return bool(self.client_id)

    @classmethod
    def load(cls) -> SpotifySettings:
        """Environment first, then the config file, then defaults."""
        config_path = Path(os.environ.get("EMOTION_DJ_CONFIG") or config_dir() / "config.json").expanduser()
        file: dict = {}
        if config_path.exists():
            try:
                data = read_setting_file(config_path, "EMOTION_DJ_CONFIG", CONFIG_LIMIT)
            except UserError as error:
                raise MusicError(str(error)) from None
            try:
                file = json.loads(data.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise MusicError(f"config file {config_path} is not valid JSON") from None
            except RecursionError:
                raise MusicError(f"config file {config_path} is nested too deeply to be a config file") from None
            if not isinstance(file, dict):
                raise MusicError(f"config file {config_path} must hold a JSON object (keys client_id, redirect_uri...)")
        pick = lambda env, key, default=None: os.environ.get(env) or file.get(key) or default  # noqa: E731
        texts = {key: pick(env, key, default) for env, key, default in (
            ("SPOTIFY_API_URL", "api_url", DEFAULT_API_URL), ("SPOTIFY_ACCOUNTS_URL", "accounts_url", DEFAULT_ACCOUNTS_URL),
            ("SPOTIPY_REDIRECT_URI", "redirect_uri", DEFAULT_REDIRECT_URI))}
        if not all(isinstance(v, str) for v in texts.values()):
            raise MusicError(f"config file {config_path}: api_url, accounts_url and redirect_uri must be strings")
        api_url = texts["api_url"]
        for name, url in (("SPOTIFY_API_URL", api_url), ("SPOTIFY_ACCOUNTS_URL", texts["accounts_url"])):
            if urlparse(url).scheme not in ("https", "http") or not urlparse(url).netloc:
                raise MusicError(f"{name} must be an https:// address (or http:// for a local stand-in), got "
                                 f"'{clean(url, 80)}'")
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
            lastfm=LastfmSettings.load(file),
        )


POSIX = os.name == "posix"  # file modes mean something only there: on Windows every file reports 0o666
TOKEN_FILE_LIMIT = 64 * 1024  # a token cache is a few hundred bytes; anything far bigger is not one


class PrivateTokenCache(CacheFileHandler):
    """spotipy's file cache, touching only a file that holds a token: it is created 0600 (owner only) in a folder
    made 0700, and a file at its path that holds no token (a mistyped SPOTIFY_TOKEN_CACHE naming someone's notes,
    garbage, another program's file) is refused in one line, on reading and on saving, and never chmodded, renamed
    or written over."""

    def _refuse(self) -> MusicError:
        return MusicError(f"the Spotify token cache {self.cache_path} does not hold a Spotify token: left as it is; "
                          "move it away, or set SPOTIFY_TOKEN_CACHE (token_cache in the config file) to another file")

    def _read(self, path: Path) -> dict | None:
        """The token the file holds; None when there is no file; MusicError when it holds something else."""
        try:
            with open(path, "rb") as f:
                data = f.read(TOKEN_FILE_LIMIT + 1)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise MusicError(f"cannot read the Spotify token cache {path}: {error.strerror}") from None
        try:
            token = json.loads(data.decode("utf-8")) if len(data) <= TOKEN_FILE_LIMIT else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            token = None
        if isinstance(token, dict) and isinstance(token.get("access_token"), str):
            return token
        raise self._refuse()

    def get_cached_token(self):
        path = Path(self.cache_path)
        token = self._read(path)
        if token is None:
            return None
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & 0o077 and POSIX:  # a token of ours: it is made private (Windows: its ACL)
            try:
                os.chmod(path, 0o600)
                log.warning("the Spotify token cache %s was readable by others (mode %o): made it private (0600)",
                            path, stat.S_IMODE(mode))
            except OSError:
                log.warning("the Spotify token cache %s is readable by others (mode %o) and cannot be made private",
                            path, stat.S_IMODE(mode))
        return token

    def save_token_to_cache(self, token_info: dict) -> None:
        """Written 0600 to a new file beside the cache, then renamed over it: a symlink at the cache's name is
        replaced, never written through, and a reader never sees half a token. A file there that holds no token
        is refused, not replaced."""
        path = Path(self.cache_path)
        self._read(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        # O_NOFOLLOW and fchmod are POSIX's; on Windows the file lands in the user's own profile, private by its ACL
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            if hasattr(os, "fchmod") and POSIX:
                os.fchmod(descriptor, 0o600)  # whatever the umask
            with os.fdopen(descriptor, "w", encoding="utf-8") as f:
                json.dump(token_info, f)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def retry_after(error: spotipy.SpotifyException) -> float:
    """The 429's Retry-After in seconds, at most MAX_RETRY_AFTER (1 s when it has none or it is not a number)."""
    try:
        seconds = float((getattr(error, "headers", None) or {}).get("Retry-After", 1))
    except (TypeError, ValueError):
        seconds = 1.0
    return max(0.0, min(seconds, MAX_RETRY_AFTER)) if seconds == seconds else 1.0


class BoundedRetry(Retry):
    """urllib3's retry, honouring Retry-After but never sleeping longer than MAX_RETRY_AFTER at once."""

    def is_retry(self, method, status_code, has_retry_after=False):
        # urllib3 retries any 429 with a Retry-After by itself, quota or not: 429s are Spotify._internal_call's to
        # retry, where the body says which kind it is.
        return status_code != 429 and super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response):
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


def quota_exceeded(error: Exception) -> bool:
    """A 429 that says the app's quota is used up: waiting seconds will not help, so it is never retried."""
    return isinstance(error, spotipy.SpotifyException) and error.http_status == 429 \
        and str(getattr(error, "reason", "") or "").upper() == "QUOTA_EXCEEDED"


class Spotify(spotipy.Spotify):
    """spotipy's client with bounded retries, a configurable base URL, and a deadline: once it has passed, no
    further request starts (PlaylistService stops waiting at the deadline).

    5xx answers are retried by urllib3 (3 times). A 429 is retried here, where its body can be read: after its
    Retry-After (at most MAX_RETRY_AFTER seconds), RATE_LIMIT_RETRIES times; one whose reason is QUOTA_EXCEEDED
    is raised at once."""

    def __init__(self, api_url: str = DEFAULT_API_URL, **kwargs):
        kwargs.setdefault("retries", 3)
        kwargs.setdefault("status_retries", 3)
        kwargs.setdefault("requests_timeout", 10)
        kwargs.setdefault("status_forcelist", (500, 502, 503, 504))
        super().__init__(**kwargs)
        self.prefix = api_url
        self.deadline: float | None = None  # time.monotonic() after which no request may start

    def _internal_call(self, method, url, payload, params):
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise MusicError("Spotify did not finish in time (deadline passed): try again later")
            try:
                return super()._internal_call(method, url, payload, params)
            except spotipy.SpotifyException as error:
                if error.http_status != 429 or quota_exceeded(error) or attempt == RATE_LIMIT_RETRIES:
                    raise
                time.sleep(retry_after(error))

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


def auth_manager(settings: SpotifySettings, open_browser: bool = True, notify: Callable[[str], None] | None = None,
                 scopes: str = SCOPES):
    if not settings.has_credentials:
        raise MusicError("no Spotify credentials: set SPOTIPY_CLIENT_ID (see README, 'Spotify')")
    common = dict(client_id=settings.client_id, redirect_uri=settings.redirect_uri, scope=scopes,
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


def connect(settings: SpotifySettings, open_browser: bool = True, notify: Callable[[str], None] | None = None,
            scopes: str = SCOPES) -> Spotify:
    return Spotify(api_url=settings.api_url, auth_manager=auth_manager(settings, open_browser, notify, scopes),
                   requests_timeout=settings.timeout)


def cached_scopes(settings: SpotifySettings) -> set[str] | None:
    """The scopes of the cached token; None when there is no usable cached token."""
    token = PrivateTokenCache(cache_path=str(settings.token_cache)).get_cached_token()
    return None if token is None else set(str(token.get("scope") or "").split())


def expired_login(error: Exception) -> bool:
    """Spotify refused the refresh token (they expire after six months since 2026): a fresh login is needed."""
    return isinstance(error, spotipy.SpotifyOauthError) and getattr(error, "error", None) == "invalid_grant"


def explain(error: Exception) -> str:
    """One line for the HUD or the CLI, for anything talking to Spotify can raise."""
    if isinstance(error, (MusicError, StoreError)):  # already one line for the user
        return str(error)
    if isinstance(error, spotipy.SpotifyException):
        status = error.http_status
        if status == 401:
            return "Spotify rejected the login (401): delete the token cache and log in again"
        if status == 403:
            return "Spotify refused the request (403): is your account on the app's user list in the dashboard?"
        if quota_exceeded(error):
            return "Spotify says this app's request quota is used up (429 QUOTA_EXCEEDED): music is off until it resets"
        if status == 429:
            return "Spotify is rate-limiting this app (429): wait a minute and try again"
        if status and status >= 500:
            return f"Spotify is having trouble ({status}): try again later"
        lines = str(error.msg).splitlines() or [""]
        return f"Spotify error {status}: {clean(lines[-1])}"
    if expired_login(error):
        return "the Spotify login has expired (refresh tokens last six months): log in again in the browser"
    if isinstance(error, spotipy.SpotifyOauthError):
        return f"Spotify login failed: {clean(getattr(error, 'error_description', None) or getattr(error, 'error', None) or 'no token')}"
    if isinstance(error, EOFError):  # spotipy fell back to asking for the redirect URL on a stdin that is closed
        return "not logged in to Spotify and no browser/terminal to log in with: run 'run_edge.py playlist' in a terminal once"
    if isinstance(error, requests.exceptions.SSLError):
        return ("cannot talk TLS with Spotify (SSL error): is SPOTIFY_API_URL an https:// address of a server that "
                "speaks plain http?")
    if isinstance(error, requests.Timeout):
        return "Spotify did not answer in time (timeout): check the connection and try again"
    if isinstance(error, requests.ConnectionError):
        return "cannot reach Spotify (offline?)"
    if isinstance(error, requests.RequestException):
        return f"network error talking to Spotify: {type(error).__name__}"
    return f"unexpected error talking to Spotify: {type(error).__name__}"
