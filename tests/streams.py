"""Local network sources for fault tests, on 127.0.0.1 only and bounded in time: an MJPEG server that can
stall, and a listener that accepts connections but never answers."""
from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2

from emotion_dj.runtime.sources.demo import DemoSource


class MjpegServer:
    """multipart/x-mixed-replace JPEG frames (of the demo scene, or `jpegs`) at `fps`; after `frames` frames it
    stalls (keeps the connection open, sends nothing) for at most `stall` seconds. Every connection starts again
    from frame 0."""

    def __init__(self, frames: int = 10_000, fps: float = 30.0, stall: float = 30.0, jpegs: list[bytes] | None = None):
        if jpegs is None:
            demo = DemoSource(frames=30)
            jpegs = [cv2.imencode(".jpg", demo.read())[1].tobytes() for _ in range(30)]
        self.jpegs = jpegs  # frame i of a connection is jpegs[i % len(jpegs)]; a test may replace its items live
        self.started_at: float | None = None  # time.monotonic() when the first connection began
        self.frames, self.fps, self.stall = frames, fps, stall
        self.connections = 0
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.connections += 1
                server.started_at = server.started_at or time.monotonic()
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for i in range(server.frames):
                        if server._stop.is_set():
                            return
                        jpeg = server.jpegs[i % len(server.jpegs)]
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                                         + jpeg + b"\r\n")
                        self.wfile.flush()
                        time.sleep(1.0 / server.fps)
                    server._stop.wait(server.stall)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/stream.mjpg"

    def __enter__(self) -> MjpegServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class SilentListener:
    """Accepts TCP connections and never says a word (a camera that hangs at connect)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def __enter__(self) -> SilentListener:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()
