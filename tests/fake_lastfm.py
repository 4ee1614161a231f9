"""A local stand-in for Last.fm's API 2.0 (JSON), on 127.0.0.1: track.getTopTags, artist.getTopTags and
tag.getTopTracks over tests/fake_catalog.py's tags, with Last.fm's errors (6: not found, 10: bad key, 29: rate
limit past 5 requests in any second) and faults to inject (down, slow). Every request is logged with its time."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from tests.fake_catalog import Catalog

KEY = "test-lastfm-key-0123456789abcdef"


class FakeLastfm:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.calls: list[tuple[float, str]] = []  # (time.monotonic(), method)
        self.down = False  # answer 503
        self.delay = 0.0  # seconds before each answer
        self.enforce_rate = True  # error 29 past 5 requests in a second, as the real service may
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/2.0/"

    def start(self) -> FakeLastfm:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def most_in_a_second(self) -> int:
        """The most requests that arrived within any one second: the client's pace."""
        times = [t for t, _ in self.calls]
        return max((sum(1 for u in times[i:] if u - t < 1.0) for i, t in enumerate(times)), default=0)

    def answer(self, query: dict) -> tuple[int, dict]:
        method = query.get("method", "")
        now = time.monotonic()
        with self._lock:
            recent = sum(1 for t, _ in self.calls if now - t < 1.0)
            self.calls.append((now, method))
        if query.get("api_key") != KEY:
            return 403, {"error": 10, "message": "Invalid API key - You must be granted a valid key by last.fm"}
        if self.enforce_rate and recent >= 5:
            return 429, {"error": 29, "message": "Rate limit exceeded"}
        c = self.catalog
        if method == "track.gettoptags":
            track = c.find(query.get("artist", ""), query.get("track", ""))
            if track is None:
                return 200, {"error": 6, "message": "Track not found"}
            return 200, {"toptags": {"tag": [{"name": n, "count": k} for n, k in track.tags],
                                     "@attr": {"artist": c.artists[track.artist].name, "track": track.name}}}
        if method == "artist.gettoptags":
            found = [a for a in c.artists if a.name.lower() == query.get("artist", "").lower()]
            if not found:
                return 200, {"error": 6, "message": "The artist you supplied could not be found"}
            return 200, {"toptags": {"tag": [{"name": n, "count": k} for n, k in found[0].tags],
                                     "@attr": {"artist": found[0].name}}}
        if method == "tag.gettoptracks":
            limit = int(query.get("limit", "50"))
            tracks = c.tag_top_tracks(query.get("tag", ""), limit)
            return 200, {"tracks": {"track": [{"name": t.name, "artist": {"name": c.artists[t.artist].name},
                                               "@attr": {"rank": str(n + 1)}} for n, t in enumerate(tracks)],
                                    "@attr": {"tag": query.get("tag", "")}}}
        return 200, {"error": 3, "message": "Invalid Method - No method with that name in this package"}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                query["method"] = query.get("method", "").lower()
                time.sleep(fake.delay)
                if fake.down:
                    status, body = 503, {"error": 16, "message": "There was a temporary error processing your request"}
                elif url.path.rstrip("/") != "/2.0":
                    status, body = 404, {"error": 3, "message": "not found"}
                else:
                    status, body = fake.answer(query)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
