"""The reference clip: 640x480, moving faces, a few hundred frames, generated deterministically."""
from __future__ import annotations

import tempfile
from pathlib import Path

import cv2

from emotion_dj.runtime.sources.demo import DemoSource


def reference_clip(path: Path | None = None, frames: int = 300, faces: int = 2) -> Path:
    """Write the demo scene (the same portrait twice, one mirrored, on smooth paths) as an MP4 once."""
    path = path or Path(tempfile.gettempdir()) / f"emotion-dj-reference-{faces}faces-{frames}.mp4"
    if path.is_file():
        return path
    source = DemoSource(frames=frames, faces=faces)
    partial = path.with_suffix(".part.mp4")
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), source.fps, (640, 480))
    while (frame := source.read()) is not None:
        writer.write(frame)
    writer.release()
    partial.replace(path)
    return path
