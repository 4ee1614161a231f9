"""What a run may write, only when asked: the annotated video (--record) and the event log (--events).

Both are finalised on every way a run ends (App.run closes them after the pipeline stops); the event log is
also flushed every second, even while no frame arrives, so a run killed without warning loses at most a second
of lines. An events file is locked while written: a second run naming it is refused.
"""
from __future__ import annotations

import json
import os
import stat
import time
from collections import deque
from pathlib import Path

import cv2
import numpy as np

from emotion_dj.core import locks
from emotion_dj.core.outputs import OutputError, check_writable
from emotion_dj.runtime.frames import Result

EVENTS_FLUSH_SECONDS = 1.0
RECORD_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi")  # mp4v for the first three, MJPG for .avi


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


def read_at(descriptor: int, size: int, offset: int) -> bytes:
    """`os.pread` where the OS has it; a seek and a read elsewhere (Windows), which moves the file's position."""
    if hasattr(os, "pread"):
        return os.pread(descriptor, size, offset)
    os.lseek(descriptor, offset, os.SEEK_SET)
    return os.read(descriptor, size)


def complete_lines_length(descriptor: int) -> int:
    """The length of a file up to the end of its last complete line (a process killed mid-write leaves a partial one)."""
    size = os.fstat(descriptor).st_size
    position = size
    while position > 0:
        start = max(0, position - (1 << 16))
        chunk = read_at(descriptor, position - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        position = start
    return 0


def complete_frame_lines(path: Path):
    """The frame lines of an events file that were written whole (a run killed mid-write leaves a partial last one)."""
    try:
        with open(path, "rb") as f:
            yield from (line for line in f if line.startswith(b'{"frame":') and line.endswith(b"\n"))
    except FileNotFoundError:
        return


def wait_for_writer_gone(path: Path, timeout: float, poll: float = 0.05) -> bool:
    """Wait until no process holds an events file's lock (EventLog's, held until close or death), so every line its
    writer flushed is on disk; False if it is still held after `timeout` (or there is no file: True)."""
    deadline = time.monotonic() + timeout
    while not locks.is_free(path):
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


def next_frame_index(path: Path) -> int:
    """The frame after the last one an events file records completely: where a restarted fleet camera goes on."""
    last = deque(complete_frame_lines(path), maxlen=1)
    return int(json.loads(last[0])["frame"]) + 1 if last else 0


class EventLog:
    """One JSON line per processed frame, plus one line per user event (e.g. a mood snapshot).

    Each face carries `probs` (smoothed, what the screen shows) and `raw` (this frame's model output).
    """

    def __init__(self, path: Path, classes: tuple[str, ...], append: bool = False):
        self.path = Path(path)
        self.classes = classes
        check_writable(self.path, "events")
        try:
            descriptor = os.open(self.path, (os.O_RDWR if append else os.O_WRONLY) | os.O_CREAT, 0o644)
        except OSError as error:
            raise OutputError(f"cannot write events to {self.path}: {error.strerror}") from None
        try:
            # Two runs writing one events file would interleave their lines: the second is refused (an OS lock,
            # held until close or death; core/locks.py), before the file is emptied.
            self._sidecar = locks.hold(self.path, descriptor)
        except OSError:
            os.close(descriptor)
            raise OutputError(f"events file {self.path} is being written by another running Emotion DJ: "
                              "give this run its own --events file") from None
        regular = stat.S_ISREG(os.fstat(descriptor).st_mode)  # a device or a FIFO (/dev/full, a pipe) is not emptied
        if regular and append:  # a restarted camera of a fleet goes on after its last complete line
            os.ftruncate(descriptor, complete_lines_length(descriptor))
            os.lseek(descriptor, 0, os.SEEK_END)
        elif regular:
            os.ftruncate(descriptor, 0)
        self.file = os.fdopen(descriptor, "w", buffering=1 << 16)
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
            # allow_nan=False: the file stays JSON (RFC 8259); the frame processor keeps NaN out of results.
            self.file.write(json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n")
        except OSError as error:
            raise OutputError(f"cannot write events to {self.path}: {error.strerror}") from None
        self.lines += 1
        self.flush_if_due()

    def flush_if_due(self) -> None:
        """Flush if the last flush is a second old; the app also calls this while no frame arrives (a stalled
        stream), so a run killed at any moment loses at most a second of lines."""
        now = time.monotonic()
        if now - self._flushed_at >= EVENTS_FLUSH_SECONDS:
            try:
                self.file.flush()
            except OSError as error:
                raise OutputError(f"cannot write events to {self.path}: {error.strerror}") from None
            self._flushed_at = now

    def close(self) -> None:
        if self.file.closed:
            return
        try:
            self.file.close()
        except OSError as error:
            raise OutputError(f"cannot write events to {self.path}: {error.strerror}") from None
        finally:
            if self._sidecar is not None:  # Windows: the lock is let go once every line is written
                os.close(self._sidecar)
                self._sidecar = None
