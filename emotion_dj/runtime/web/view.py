"""What the app thread shares with the web server: the newest annotated frame (JPEG-encoded on its own thread, at
most `fps` times a second and only while someone watches), the newest live state as JSON, and the playlist
button's requests. Newest only, never a queue: a slow or vanished client costs nothing."""
from __future__ import annotations

import json
import threading
import time

import cv2
import numpy as np

JPEG_QUALITY = 80


class LiveView:
    def __init__(self, fps: float = 15.0):
        self.interval = 1.0 / fps
        self.viewers = 0  # open video streams; the app draws and offers frames only while this is above 0
        self._lock = threading.Condition()
        self._frame: np.ndarray | None = None  # the buffer offered frames are copied into (reused)
        self._encoding: np.ndarray | None = None  # the encoder's own copy
        self._frame_seq = 0
        self._encoded_seq = 0
        self._offered_at = 0.0
        self.jpeg = b""
        self.jpeg_seq = 0
        self.state = b"{}"
        self.state_seq = 0
        self._playlist_requests = 0
        self._dj_command: dict | None = None  # the DJ switch and target from the page, newest wins
        self._closed = False
        self._encoder = threading.Thread(target=self._encode_loop, name="web-jpeg", daemon=True)
        self._encoder.start()

    # -- the app thread -------------------------------------------------------------------------------------
    def wants_frame(self) -> bool:
        return self.viewers > 0 and time.monotonic() - self._offered_at >= self.interval

    def offer_frame(self, image: np.ndarray) -> None:
        """Copy the drawn frame for the encoder (the app draws the next frame into the same pixels)."""
        with self._lock:
            if self._frame is None or self._frame.shape != image.shape:
                self._frame = np.empty_like(image)
            np.copyto(self._frame, image)
            self._frame_seq += 1
            self._offered_at = time.monotonic()
            self._lock.notify_all()

    def publish_state(self, state: dict) -> None:
        self.state = json.dumps(state, separators=(",", ":"), allow_nan=False).encode()
        self.state_seq += 1

    def take_dj_command(self) -> dict | None:
        """The page's newest DJ command ({"on": bool} and/or {"target": name}), once; None when there is none."""
        if self._dj_command is None:  # the usual case: no lock taken
            return None
        with self._lock:
            command, self._dj_command = self._dj_command, None
            return command

    def request_dj(self, command: dict) -> None:
        with self._lock:
            self._dj_command = {**(self._dj_command or {}), **command}

    def take_playlist_request(self) -> bool:
        if not self._playlist_requests:  # the usual case, every loop of the app: no lock taken
            return False
        with self._lock:
            asked, self._playlist_requests = self._playlist_requests > 0, 0
            return asked

    # -- the server thread ------------------------------------------------------------------------------------
    def request_playlist(self) -> None:
        with self._lock:
            self._playlist_requests += 1

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._encoder.join(timeout=1.0)

    @property
    def closed(self) -> bool:
        return self._closed

    def _encode_loop(self) -> None:
        while True:
            with self._lock:
                while not self._closed and self._frame_seq == self._encoded_seq:
                    self._lock.wait(timeout=0.5)
                if self._closed:
                    return
                seq = self._frame_seq
                if self._encoding is None or self._encoding.shape != self._frame.shape:
                    self._encoding = np.empty_like(self._frame)
                np.copyto(self._encoding, self._frame)  # encode outside the lock: the app thread never waits on it
            ok, buffer = cv2.imencode(".jpg", self._encoding, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            self._encoded_seq = seq
            if ok:
                self.jpeg, self.jpeg_seq = buffer.tobytes(), seq
