"""Sources read through cv2.VideoCapture: camera index, video file, RTSP/HTTP URL."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from runtime.errors import UserError
from runtime.sources import Source


class CaptureSource(Source):
    def __init__(self, capture: "cv2.VideoCapture", label: str, live: bool, first: np.ndarray | None = None):
        self.capture = capture
        self.label = label
        self.live = live
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        self._first = first  # a file's first frame, read once to prove it decodes

    def read(self) -> np.ndarray | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        ok, frame = self.capture.read()
        return frame if ok else None

    def describe(self) -> str:
        return self.label

    def close(self) -> None:
        self.capture.release()


def open(kind: str, spec: str, loop: bool = False, **_) -> CaptureSource:  # noqa: A001 - the module's factory
    if kind == "camera":
        capture = cv2.VideoCapture(int(spec))
        if not capture.isOpened():
            raise UserError(f"camera {spec} could not be opened (none connected, or in use) - try --source demo or a video file")
        return CaptureSource(capture, f"camera {spec}", live=True)
    if kind == "url":
        capture = cv2.VideoCapture(spec, cv2.CAP_FFMPEG)
        if not capture.isOpened():
            raise UserError(f"stream {spec} could not be opened (unreachable, or not a video stream)")
        return CaptureSource(capture, f"stream {spec.split('@')[-1]}", live=True)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UserError(f"video not found: {path}")
    capture = cv2.VideoCapture(str(path))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok:
        capture.release()
        raise UserError(f"cannot decode video {path} (corrupt, empty or not a video)")
    return CaptureSource(capture, f"video {path.name}", live=False, first=first)
