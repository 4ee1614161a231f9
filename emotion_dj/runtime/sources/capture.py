"""Sources read through cv2.VideoCapture: a camera index, a video file, an RTSP/HTTP/UDP stream.

Streams are opened with explicit open and read timeouts, so neither a listener that never answers nor a
stream that stalls can hold a thread inside OpenCV for long (and Ctrl-C is never stuck behind it).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emotion_dj.core.redact import redact
from emotion_dj.runtime.shutdown import STOP
from emotion_dj.runtime.sources import Source, SourceError, SourceOptions

log = logging.getLogger(__name__)
URL_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
MAX_CAMERA_INDEX = 1023
RETRY_WAIT_MAX_S = 30.0
# EMOTION_DJ_CAMERA_BACKEND: how OpenCV opens a camera. "auto" is the platform's quick one: DirectShow on Windows
# (its default, Media Foundation, can take seconds to minutes to open some webcams), the default elsewhere.
CAMERA_BACKENDS = {"any": "CAP_ANY", "dshow": "CAP_DSHOW", "msmf": "CAP_MSMF", "v4l2": "CAP_V4L2",
                   "avfoundation": "CAP_AVFOUNDATION"}
MACOS_CAMERA_HINT = ("on macOS, allow camera access for the app that runs Emotion DJ (your terminal or editor) in System "
                     "Settings > Privacy & Security > Camera, then run it again")


def camera_backend(environ=os.environ, platform: str | None = None) -> int:
    """The OpenCV backend for cameras: the setting, or the platform's quick one."""
    name = environ.get("EMOTION_DJ_CAMERA_BACKEND", "auto").strip().lower() or "auto"
    if name == "auto":
        name = "dshow" if (platform or sys.platform) == "win32" else "any"
    if name not in CAMERA_BACKENDS:
        raise SourceError(f"EMOTION_DJ_CAMERA_BACKEND must be auto or one of {', '.join(CAMERA_BACKENDS)}, "
                          f"got '{name[:20]}'")
    if name == "msmf":  # Media Foundation's hardware transforms are what make it slow to open: off
        os.environ.setdefault("OPENCV_VIDEOIO_MSMF_ENABLE_HW_TRANSFORMS", "0")
    return getattr(cv2, CAMERA_BACKENDS[name])


def camera_failure(index: int, platform: str | None = None, tried: str = "") -> str:
    """The one line for a camera that did not open; `tried` says how often and for how long, where it was retried."""
    platform = platform or sys.platform
    line = f"camera {index} could not be opened (none connected, or in use{tried})"
    if platform == "darwin":
        return f"{line}: {MACOS_CAMERA_HINT}"
    if platform.startswith("linux") and in_container() and not os.path.exists(f"/dev/video{index}"):
        return f"{line}: there is no /dev/video{index} in this container (run it with --device /dev/video{index})"
    return f"{line} - try --source demo or a video file"


def in_container() -> bool:
    """Docker marks its containers with /.dockerenv, Podman with /run/.containerenv."""
    return os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv")


def frame_rate(capture: cv2.VideoCapture) -> float:
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if 1.0 <= fps <= 240.0 else 30.0


@dataclass
class CameraOptions(SourceOptions):
    retries: int = 0  # times to try again to open a camera that is not there yet (a container's, starting with the host)


class CameraSource(Source):
    live = True
    Options = CameraOptions

    def __init__(self, capture: cv2.VideoCapture, index: int):
        self.capture, self.index = capture, index
        self.fps = frame_rate(capture)

    @classmethod
    def claims(cls, spec: str) -> bool:
        return spec.isdigit()

    @classmethod
    def create(cls, options: CameraOptions) -> CameraSource:
        index = int(options.spec)
        if index > MAX_CAMERA_INDEX:
            raise SourceError(f"camera index {options.spec} is out of range (0 to {MAX_CAMERA_INDEX})")
        backend = camera_backend()
        started = time.monotonic()
        for attempt in range(options.retries + 1):
            capture = cv2.VideoCapture(index, backend)
            if capture.isOpened():
                return cls(capture, index)
            capture.release()
            # back-off 1, 2, 4... s (at most 30), silent: the one line comes at the end; a stop signal ends the wait
            if attempt == options.retries or STOP.event.wait(min(2.0 ** attempt, RETRY_WAIT_MAX_S)):
                break
        tried = f"; {attempt + 1} tries over {time.monotonic() - started:.0f} s" if attempt else ""
        raise SourceError(camera_failure(index, tried=tried))

    def read(self) -> np.ndarray | None:
        ok, frame = self.capture.read()
        if not ok:
            raise SourceError(f"camera {self.index} stopped delivering frames (unplugged?)")
        return frame

    def describe(self) -> str:
        return f"camera {self.index}"

    def close(self) -> None:
        self.capture.release()


@dataclass
class StreamOptions(SourceOptions):
    timeout: float = 5.0  # seconds to open the stream, and the longest wait for one frame
    reconnect: int = 0  # times to reopen a stream that stalls or drops before giving up


class StreamSource(Source):
    live = True
    Options = StreamOptions

    def __init__(self, options: StreamOptions, capture: cv2.VideoCapture):
        self.options, self.capture = options, capture
        self.label = f"stream {redact(options.spec)}"
        self.fps = frame_rate(capture)
        self.reconnects = 0

    @classmethod
    def claims(cls, spec: str) -> bool:
        return spec.lower().startswith(URL_PREFIXES)

    @staticmethod
    def _open(options: StreamOptions) -> cv2.VideoCapture:
        ms = int(options.timeout * 1000)
        capture = cv2.VideoCapture(options.spec, cv2.CAP_FFMPEG,
                                   [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"stream {redact(options.spec)} could not be opened within {options.timeout:g} s "
                              "(unreachable, or not a video stream)")
        return capture

    @classmethod
    def create(cls, options: StreamOptions) -> StreamSource:
        return cls(options, cls._open(options))

    def read(self) -> np.ndarray | None:
        while True:
            ok, frame = self.capture.read()
            if ok:
                return frame
            if self.reconnects >= self.options.reconnect:
                raise SourceError(f"{self.label} stopped delivering frames (no frame for {self.options.timeout:g} s"
                                  + (f", {self.reconnects} reconnects tried)" if self.reconnects else "); --reconnect N retries"))
            self.reconnects += 1
            log.warning("%s stalled: reconnecting (%d of %d)", self.label, self.reconnects, self.options.reconnect)
            self.capture.release()
            try:
                self.capture = self._open(self.options)
            except SourceError as error:
                log.warning("%s", error)
                self.capture = cv2.VideoCapture()  # closed: its read() fails at once and the loop tries again

    def describe(self) -> str:
        return self.label

    def close(self) -> None:
        self.capture.release()


class VideoFileSource(Source):
    live = False

    def __init__(self, capture: cv2.VideoCapture, path: Path, first: np.ndarray, loop: bool = False):
        self.capture, self.path, self.loop = capture, path, loop
        self.fps = frame_rate(capture)
        self._first: np.ndarray | None = first  # read once at open to prove the file decodes

    @classmethod
    def claims(cls, spec: str) -> bool:
        return True  # the last kind tried: anything else is taken as a video file

    @classmethod
    def create(cls, options: SourceOptions) -> VideoFileSource:
        path = Path(options.spec).expanduser()
        if not path.is_file():
            raise SourceError(f"video not found: {redact(path)}")
        capture = cv2.VideoCapture(str(path))
        ok, first = capture.read() if capture.isOpened() else (False, None)
        if not ok:
            capture.release()
            raise SourceError(f"cannot decode video {redact(path)} (corrupt, empty or not a video)")
        return cls(capture, path, first, options.loop)

    def read(self) -> np.ndarray | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        ok, frame = self.capture.read()
        if not ok and self.loop:  # played round: back to the first frame
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.capture.read()
        return frame if ok else None

    def describe(self) -> str:
        return f"video {redact(self.path.name)}"

    def close(self) -> None:
        self.capture.release()
