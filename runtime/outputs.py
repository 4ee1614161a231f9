"""What a run may write, only when asked: the annotated video (--record) and the event log (--events)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from runtime.errors import UserError
from runtime.pipeline import Result


class Recorder:
    """Annotated frames to a video file; opened lazily at the first frame's size."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = Path(path), fps
        self.writer: cv2.VideoWriter | None = None
        self.frames = 0
        if not self.path.parent.is_dir():
            raise UserError(f"cannot record to {self.path}: folder {self.path.parent} does not exist")

    def write(self, image: np.ndarray) -> None:
        if self.writer is None:
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"))
            self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (image.shape[1], image.shape[0]))
            if not self.writer.isOpened():
                raise UserError(f"cannot record to {self.path}: no video encoder for this file type (use .mp4 or .avi)")
        self.writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()  # finalises the container (moov atom / index)
            self.writer = None


class EventLog:
    """One JSON line per processed frame, plus one line per user event (e.g. a mood snapshot)."""

    def __init__(self, path: Path, classes: tuple[str, ...]):
        self.path = Path(path)
        self.classes = classes
        try:
            self.file = open(self.path, "w", buffering=1 << 16)
        except OSError as error:
            raise UserError(f"cannot write events to {self.path}: {error.strerror}") from None
        self.lines = 0

    def frame(self, result: Result) -> None:
        faces = [{
            "id": face.id,
            "box": list(face.box),
            "label": self.classes[int(face.probs.argmax())],
            "score": round(float(face.probs.max()), 4),
            "probs": {name: round(float(p), 4) for name, p in zip(self.classes, face.probs)},
        } for face in result.faces]
        self._write({"frame": result.frame.index, "t": round(result.frame.timestamp, 4),
                     "detected": result.detected, "faces": faces})

    def event(self, kind: str, **fields) -> None:
        self._write({"event": kind, **fields})

    def _write(self, record: dict) -> None:
        self.file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.lines += 1

    def close(self) -> None:
        self.file.close()
