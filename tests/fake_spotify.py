"""A local stand-in for Spotify's 2026 Web API and accounts service, on 127.0.0.1.

Allowed endpoints behave like the real ones (search: at most 10 per page, else 400); removed ones
answer 403 or 404. `script` injects failures: (method, path prefix, status, headers, times[, reason]).
Every request is logged in `calls` so tests can check which endpoints were used.

Without a `catalog`, every query finds 45 made-up tracks. With one (tests/fake_catalog.py), search ranks its
tracks by the query's words and honours `genre:`, `artist:`, `track:` and `year:`, and /me/top/*, recently-played,
/me/playlists and /playlists/{id}/items answer for `listener`, when the token carries the scopes they need.
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

REMOVED = ("/v1/recommendations", "/v1/audio-features", "/v1/audio-analysis", "/v1/browse/")
REMOVED_EXACT = ("/v1/artists", "/v1/tracks")  # the multi-id gets
REMOVED_SUFFIX = ("/top-tracks", "/related-artists")  # of /v1/artists/{id}
BASE_SCOPES = "playlist-modify-private playlist-modify-public"
TASTE_AND_PLAYER = " user-top-read user-read-recently-played user-read-playback-state user-modify-playback-state user-read-currently-playing"
ALL_SCOPES = BASE_SCOPES + TASTE_AND_PLAYER + " playlist-read-private playlist-read-collaborative"
NEEDS_SCOPE = {"/v1/me/top/artists": "user-top-read", "/v1/me/top/tracks": "user-top-read",
               "/v1/me/player/recently-played": "user-read-recently-played"}
PLAYLIST_READ = "playlist-read-private"  # without it, /me/playlists lists only public ones: the listener's are private


class FakeSpotify:
    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.script: list[list] = []
        self.delays: dict[str, float] = {}  # exact path -> seconds to sleep before answering
        self.tokens: dict[str, str] = {}  # access token -> its scopes
        self.codes: dict[str, tuple[str, str, str]] = {}  # code -> (challenge, redirect_uri, scope)
        # the player: Spotify Connect devices and playback simulated in real time (tracks of `track_seconds`)
        self.premium = True
        self.devices = [{"id": "dev-living-room", "name": "Living Room", "type": "Speaker", "is_active": True}]
        self.track_seconds = 180.0
        self.clock = time.monotonic  # the player's time; a test in simulated time replaces it
        self.current: str | None = None  # the uri playing
        self.started = 0.0  # time.monotonic() when it started
        self.queue: list[str] = []
        self.played: list[tuple[float, str]] = []  # (when, uri) of every track that began
        self.player_writes: list[tuple[float, str]] = []  # (when, path) of every play, queue and next
        self.paused = False  # the listener paused: what plays stays, not playing, its time frozen
        self.episode = False  # the listener plays a podcast episode (no track item)
        self.silent = False  # a stuck player: takes every write, and plays nothing (204) forever
        self.down_until = -1.0  # every request answers 503 until the player's clock reaches this (an outage)
        self.refresh_fails = False  # a refresh token past its six months: invalid_grant
        self.granted_scope: str | None = None  # what a login grants (None: what it asked for)
        self.catalog = None  # a tests.fake_catalog.Catalog
        self.listener = "narrow"  # whose top artists and plays /me/top answers with
        self.authorize_urls: list[str] = []
        self.playlists: dict[str, dict] = {}
        self.served: dict[str, tuple[str, str]] = {}  # uri -> (title, artist) of every search result served
        self.catalogue = 45  # tracks each query finds
        self.vanished: set[str] = set()  # the listener's playlists deleted after they were listed (404 on items)
        self.null_items = False  # every 4th search result is null (a server hiccup)
        self.playlist_url: str | None = None  # what external_urls.spotify says (None: the real form)
        self.error_text: str | None = None  # the message of scripted errors
        self._ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeSpotify:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def issue_token(self, scope: str = ALL_SCOPES) -> dict:
        token = f"tok-{next(self._ids)}-secretvalue"
        self.tokens[token] = scope
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "refresh_token": f"ref-{token}",
                "scope": scope, "expires_at": int(time.time()) + 3600}

    def _begin(self, uri: str | None, when: float) -> None:
        self.current, self.started = uri, when
        if uri:
            self.played.append((when, uri))

    def advance(self) -> None:
        """Real-time playback: a track that has run its length gives way to the next queued one."""
        now = self.clock()
        if self.paused or self.episode:
            return
        while self.current and now - self.started >= self.track_seconds:
            ended = self.started + self.track_seconds
            self._begin(self.queue.pop(0) if self.queue else None, ended)

    def track_json(self, uri: str) -> dict:
        if self.catalog is not None and uri in self.catalog.by_uri:
            return self.catalog.track_json(self.catalog.by_uri[uri])
        return {"uri": uri, "name": uri.rsplit(":", 1)[-1], "artists": [{"id": "a", "name": "someone"}], "album": {}}

    def player(self, method: str, path: str, query: dict, body: bytes):
        """(status, json or None, reason) for /me/player/{devices,play,queue,next,currently-playing}."""
        self.advance()
        if method == "GET" and path == "/v1/me/player/devices":
            return 200, {"devices": self.devices}, None
        if method == "GET" and path == "/v1/me/player/currently-playing":
            if self.episode:
                return 200, {"item": None, "currently_playing_type": "episode", "is_playing": True, "progress_ms": 1000}, None
            if not self.current or self.silent:
                return 204, None, None
            if self.paused:
                return 200, {"item": self.track_json(self.current), "is_playing": False, "progress_ms": 1000,
                             "currently_playing_type": "track"}, None
            return 200, {"item": self.track_json(self.current), "is_playing": True,
                         "progress_ms": int((self.clock() - self.started) * 1000)}, None
        if not self.premium:
            return 403, "Player command failed: Premium required", "PREMIUM_REQUIRED"
        device = query.get("device_id", [None])[0]
        if not self.devices or (device and device not in {d["id"] for d in self.devices}):
            return 404, "Player command failed: No active device found", "NO_ACTIVE_DEVICE"
        now = self.clock()
        self.player_writes.append((now, path))
        if path == "/v1/me/player/play":
            uris = (json.loads(body or b"{}") or {}).get("uris") or []
            self._begin(uris[0] if uris else self.current, now)
            self.queue = list(uris[1:]) + self.queue
        elif path == "/v1/me/player/queue":
            self.queue.append(query["uri"][0])
        elif path == "/v1/me/player/next":
            self._begin(self.queue.pop(0) if self.queue else None, now)
        else:
            return 404, "not found", None
        return 204, None, None

    def personal(self, path: str) -> dict:
        """/me/top/{artists,tracks} and recently-played for `listener` (empty without a catalog)."""
        if self.catalog is None:
            return {"items": []}
        who, c = self.catalog.listeners[self.listener], self.catalog
        if path.endswith("/artists"):
            return {"items": [c.artist_json(i) for i in who["artists"]]}
        if path.endswith("/tracks"):
            return {"items": [c.track_json(t) for t in who["tracks"]]}
        return {"items": [{"track": c.track_json(t), "played_at": "2026-12-01T12:00:00Z"} for t in who["recent"]]}

    def own_playlists(self, allowed: bool, query: dict) -> dict:
        """GET /me/playlists: the listener's own (all private: none without playlist-read-private), 50 a page."""
        lists = self.catalog.listeners[self.listener].get("playlists", []) if self.catalog is not None and allowed else []
        limit, offset = int(query.get("limit", ["20"])[0]), int(query.get("offset", ["0"])[0])
        items = [{"id": f"own{self.listener}{n}", "name": p["name"], "public": False, "collaborative": False,
                  "owner": {"id": "tester"}, "items": {"total": len(p["tracks"])}}
                 for n, p in enumerate(lists)][offset:offset + min(limit, 50)]
        return {"items": items, "total": len(lists), "limit": limit, "offset": offset}

    def playlist_items(self, pid: str, query: dict) -> tuple[int, dict]:
        lists = self.catalog.listeners[self.listener].get("playlists", []) if self.catalog is not None else []
        number = pid.removeprefix(f"own{self.listener}")
        if pid in self.vanished or not number.isdigit() or int(number) >= len(lists):
            return 404, {"error": {"status": 404, "message": "Resource not found"}}
        tracks = lists[int(number)]["tracks"]
        limit, offset = int(query.get("limit", ["100"])[0]), int(query.get("offset", ["0"])[0])
        if limit > 50:
            return 400, {"error": {"status": 400, "message": "Invalid limit"}}
        page = [{"added_at": "2026-06-01T12:00:00Z", "item": self.catalog.track_json(t)} for t in tracks[offset:offset + limit]]
        return 200, {"items": page, "total": len(tracks), "limit": limit, "offset": offset}

    # -- catalogue: every query has 45 tracks; some titles repeat across queries and within a query ------
    def search_page(self, query: str, offset: int, limit: int) -> list[dict | None]:
        items = []
        for n in range(offset, min(offset + limit, self.catalogue)):
            if self.null_items and n % 4 == 3:
                items.append(None)
                continue
            # every 7th result is a re-release of an earlier song (same title and artist, new URI)
            title = f"{query} song {n - 1 if n % 7 == 6 else n}"
            if n % 9 == 8:
                title = "Shared Hit"  # the same song found by several queries
            items.append({"uri": f"spotify:track:{abs(hash((query, n))) % 10**12:012d}", "name": title,
                          "artists": [{"name": "Shared Artist" if title == "Shared Hit" else f"artist of {query}"}]})
        return items

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body=None, headers: dict | None = None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str, headers=None, reason: str | None = None):
                self._send(status, {"error": {"status": status, "message": message, **({"reason": reason} if reason else {})}},
                           headers)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _scripted(self, method: str, path: str) -> bool:
                for entry in fake.script:
                    m, prefix, status, headers, times = entry[:5]
                    if m == method and path.startswith(prefix) and times > 0:
                        entry[4] -= 1
                        self._error(status, fake.error_text or f"scripted {status}", headers, *entry[5:6])
                        return True
                return False

            def _handle(self, method: str):
                url = urlparse(self.path)
                path, query = url.path.rstrip("/") or "/", parse_qs(url.query)  # Spotify ignores a trailing slash
                body = self._body() if method in ("POST", "PUT") else b""
                fake.calls.append((method, path))
                time.sleep(fake.delays.get(path, 0.0))
                if fake.clock() < fake.down_until:
                    fake.advance()
                    return self._error(503, "Service unavailable")
                if self._scripted(method, path):
                    return
                if path == "/authorize":
                    fake.authorize_urls.append(self.path)
                    code = f"code-{next(fake._ids)}"
                    fake.codes[code] = (query.get("code_challenge", [""])[0], query["redirect_uri"][0],  # none: client-secret flow
                                        query.get("scope", [BASE_SCOPES])[0])
                    target = query["redirect_uri"][0] + "?" + urlencode({"code": code, **({"state": query["state"][0]} if "state" in query else {})})
                    return self._send(302, None, {"Location": target})
                if path == "/api/token":
                    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                    if form.get("grant_type") == "refresh_token":
                        if fake.refresh_fails:
                            return self._send(400, {"error": "invalid_grant", "error_description": "Refresh token revoked"})
                        return self._send(200, fake.issue_token())
                    challenge, redirect, scope = fake.codes.pop(form.get("code", ""), (None, None, None))
                    verifier = form.get("code_verifier", "")
                    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                    if challenge is None or redirect != form.get("redirect_uri") or (verifier and expected != challenge):
                        return self._send(400, {"error": "invalid_grant", "error_description": "bad code or verifier"})
                    return self._send(200, fake.issue_token(fake.granted_scope or scope))
                if not path.startswith("/v1/"):
                    return self._error(404, "not found")
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") or auth[7:] not in fake.tokens:
                    return self._error(401, "The access token expired")
                if path.startswith(REMOVED) or path in REMOVED_EXACT or path.endswith(REMOVED_SUFFIX) \
                        or (path.startswith("/v1/users/") and path.endswith("/playlists")):
                    return self._error(403, "This endpoint is not available to development-mode apps")
                if path.startswith("/v1/me/player/") and path != "/v1/me/player/recently-played":
                    status, answer, reason = fake.player(method, path, query, body)
                    if status >= 400:
                        return self._error(status, answer, None, reason)
                    return self._send(status, answer)
                if path in NEEDS_SCOPE:
                    if NEEDS_SCOPE[path] not in fake.tokens[auth[7:]].split():
                        return self._error(403, "Insufficient client scope")
                    return self._send(200, fake.personal(path))
                if method == "GET" and path.startswith("/v1/artists/") and fake.catalog is not None:
                    index = fake.catalog.artist_by_id.get(path.split("/")[3])
                    return self._send(200, fake.catalog.artist_json(index)) if index is not None else self._error(404, "no such artist")
                if path.startswith("/v1/playlists/") and path.endswith("/tracks"):
                    return self._error(404, "Use /items")
                if method == "GET" and path == "/v1/me/playlists":
                    return self._send(200, fake.own_playlists(PLAYLIST_READ in fake.tokens[auth[7:]].split(), query))
                if method == "GET" and path.startswith("/v1/playlists/") and path.endswith("/items"):
                    return self._send(*fake.playlist_items(path.split("/")[3], query))
                if method == "GET" and path == "/v1/me":
                    return self._send(200, {"id": "tester", "display_name": "Tester"})
                if method == "GET" and path == "/v1/search":
                    limit, offset = int(query.get("limit", ["10"])[0]), int(query.get("offset", ["0"])[0])
                    if limit > 10 or offset > 1000:
                        return self._error(400, "Invalid limit" if limit > 10 else "Invalid offset")
                    if fake.catalog is not None:
                        found = fake.catalog.search(query["q"][0])
                        items = [fake.catalog.track_json(t) for t in found[offset:offset + limit]]
                        return self._send(200, {"tracks": {"items": items, "limit": limit, "offset": offset, "total": len(found)}})
                    items = fake.search_page(query["q"][0], offset, limit)
                    fake.served.update({t["uri"]: (t["name"], t["artists"][0]["name"]) for t in items if t})
                    return self._send(200, {"tracks": {"items": items, "limit": limit, "offset": offset,
                                                       "total": fake.catalogue}})
                if method == "POST" and path == "/v1/me/playlists":
                    data = json.loads(body)
                    pid = f"pl{next(fake._ids)}"
                    fake.playlists[pid] = {**data, "items": []}
                    return self._send(201, {"id": pid, "name": data["name"],
                                            "external_urls": {"spotify": fake.playlist_url
                                                              or f"https://open.spotify.com/playlist/{pid}"}})
                if method == "POST" and path.startswith("/v1/playlists/") and path.endswith("/items"):
                    pid = path.split("/")[3]
                    data = json.loads(body)
                    uris = data["uris"] if isinstance(data, dict) else data  # Spotify takes {"uris": [...]} or [...]
                    if pid not in fake.playlists:
                        return self._error(404, "no such playlist")
                    if len(uris) > 100:
                        return self._error(400, "too many items")
                    fake.playlists[pid]["items"].extend(uris)
                    return self._send(201, {"snapshot_id": "snap"})
                return self._error(404, "not found")

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PUT(self):
                self._handle("PUT")

        return Handler
