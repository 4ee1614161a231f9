"""Generated test media: clips of faces moving over a background, and broken files."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480


def moving_faces_clip(path: Path, faces: list[np.ndarray], frames: int = 60, fps: float = 30.0,
                      face_size: int = 160) -> list[list[tuple[int, int, int, int]]]:
    """Write a clip with each face (grayscale or BGR) drifting in its own lane; returns the true boxes per frame."""
    sprites = []
    for face in faces:
        face = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR) if face.ndim == 2 else face
        scale = face_size / face.shape[0]
        sprites.append(cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC))
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (WIDTH, HEIGHT))
    assert writer.isOpened(), f"no encoder for {path}"
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    background = np.dstack([60 + 50 * xx / WIDTH, 90 + 30 * yy / HEIGHT, 80 + 0 * xx]).astype(np.uint8)
    lane = WIDTH // len(sprites)
    truth = []
    for i in range(frames):
        frame = background.copy()
        boxes = []
        for k, sprite in enumerate(sprites):
            h, w = sprite.shape[:2]
            x = k * lane + int((0.5 + 0.5 * math.sin(i / fps * 1.5 + k)) * max(lane - w, 0))
            y = int((0.5 + 0.5 * math.sin(i / fps + 2 * k)) * (HEIGHT - h))
            frame[y:y + h, x:x + w] = sprite
            boxes.append((x, y, w, h))
        writer.write(frame)
        truth.append(boxes)
    writer.release()
    return truth


def demo_portrait() -> np.ndarray:
    from emotion_dj.runtime.sources.demo import demo_face

    return demo_face()
