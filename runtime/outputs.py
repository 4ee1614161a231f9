"""What a run may write, only when asked: the annotated video (--record) and the event log (--events).

Both are finalised on every way a run ends (App.run closes them after the pipeline stops); the event log is
also flushed every second, so even a run killed without warning loses at most a second of lines.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np

from core.errors import UserError
from runtime.frames import Result

EVENTS_FLUSH_SECONDS = 1.0


class OutputError(UserError):
    """An output file that cannot be written (disk full, no permission); one line for the user."""


def check_writable(path: Path, what: str) -> None:
    """Fail at start, with the real reason, if `path` cannot be written (by trying: permissions alone do not
    tell, e.g. for root or on a read-only file system)."""
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {what} to {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise OutputError(f"cannot write {what} to {path}: it is a folder")
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as error:
        raise OutputError(f"cannot write {what} to {path}: {error.strerror}") from None
    if not existed:
        path.unlink(missing_ok=True)


class Recorder:
    """Annotated frames to a video file; the encoder opens at the first frame's size."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = Path(path), fps
        self.writer: cv2.VideoWriter | None = None
        self.frames = 0
        check_writable(self.path, "the recording")

    def write(self, image: np.ndarray) -> None:
        if self.writer is None:
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"))
            self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (image.shape[1], image.shape[0]))
            if not self.writer.isOpened():
                raise OutputError(f"cannot record to {self.path}: no video encoder for this file type (use .mp4 or .avi)")
        self.writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()  # finalises the container (moov atom / index)
            self.writer = None


class EventLog:
    """One JSON line per processed frame, plus one line per user event (e.g. a mood snapshot).

    Each face carries `probs` (smoothed, what the screen shows) and `raw` (this frame's model output).
    """

    def __init__(self, path: Path, classes: tuple[str, ...]):
        self.path = Path(path)
        self.classes = classes
        check_writable(self.path, "events")
        try:
            self.file = open(self.path, "w", buffering=1 << 16)
        except OSError as error:
            raise OutputError(f"cannot write events to {self.path}: {error.strerror}") from None
        self.lines = 0
        self._flushed_at = time.monotonic()

    def _probs(self, probs: np.ndarray) -> dict[str, float]:
        return {name: round(float(p), 4) for name, p in zip(self.classes, probs)}

    def frame(self, result: Result) -> None:
        faces = [{
            "id": face.id,
            "box": list(face.box),
            "label": self.classes[int(face.probs.argmax())],
            "score": round(float(face.probs.max()), 4),
            "probs": self._probs(face.probs),
            "raw": self._probs(face.raw),
        } for face in result.faces]
        self._write({"frame": result.frame.index, "t": round(result.frame.timestamp, 4),
                     "detected": result.detected, "faces": faces})

    def event(self, kind: str, **fields) -> None:
        self._write({"event": kind, **fields})

    def _write(self, record: dict) -> None:
        try:
            self.file.write(json.dumps(record, separators=(",", ":")) + "\n")
            now = time.monotonic()
            if now - self._flushed_at >= EVENTS_FLUSH_SECONDS:
                self.file.flush()
                self._flushed_at = now
        except OSError as error:
            raise OutputError(f"cannot write events to {self.path}: {error.strerror}") from None
        self.lines += 1

    def close(self) -> None:
        if self.file.closed:
            return
        try:
            self.file.close()
        except OSError as error:
            raise OutputError(f"cannot write events to {self.path}: {error.strerror}") from None
