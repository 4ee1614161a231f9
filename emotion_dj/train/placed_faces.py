"""FER2013 faces placed in full frames, the way a camera would show them to a detector.

Each 48x48 face is padded with replicated borders (so a detector sees a head, not a cut-out), scaled so the
face proper spans 60 to 300 pixels, and placed at a random position on a 640x480 frame with a random
background and brightness, all from a seed. Used by the pipeline-accuracy benchmark (val/test) and by
train/detector_crops.py (train), so both see the same kind of frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from emotion_dj.core.contract import CropSpec
from emotion_dj.runtime.faces import FaceCropper
from emotion_dj.runtime.tracking import iou_matrix

WIDTH, HEIGHT = 640, 480
FACE_SIZES = (60, 100, 150, 220, 300)  # pixels spanned by the 48x48 face proper
PADDING = 0.35  # replicated border on each side, as a fraction of the face
BRIGHTNESS = (0.6, 0.8, 1.0, 1.2)


@dataclass(frozen=True)
class Placement:
    size: int
    x: int  # top-left of the face proper in the frame
    y: int
    background: int  # 0 uniform, 1 gradient, 2 noise
    level: int  # background grey level
    brightness: float
    seed: int


def placements(count: int, seed: int) -> list[Placement]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        size = FACE_SIZES[i % len(FACE_SIZES)]
        out.append(Placement(size, int(rng.integers(0, WIDTH - size + 1)), int(rng.integers(0, HEIGHT - size + 1)),
                             int(rng.integers(0, 3)), int(rng.integers(30, 220)), float(rng.choice(BRIGHTNESS)),
                             int(rng.integers(0, 2**31))))
    return out


def render(face: np.ndarray, p: Placement) -> tuple[np.ndarray, np.ndarray]:
    """The frame (BGR) with `face` placed as `p` says, and the face's true box (x, y, w, h)."""
    rng = np.random.default_rng(p.seed)
    if p.background == 0:
        frame = np.full((HEIGHT, WIDTH), p.level, np.float32)
    elif p.background == 1:
        frame = np.tile(np.linspace(p.level * 0.5, min(255, p.level * 1.5), WIDTH, dtype=np.float32), (HEIGHT, 1))
    else:
        frame = np.clip(rng.normal(p.level, 35, (HEIGHT // 8, WIDTH // 8)), 0, 255).astype(np.float32)
        frame = cv2.resize(frame, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    pad = round(face.shape[0] * PADDING)
    padded = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    scale = p.size / face.shape[0]
    big = cv2.resize(padded, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC).astype(np.float32) * p.brightness
    offset = round(pad * scale)
    x0, y0 = p.x - offset, p.y - offset
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(WIDTH, x0 + big.shape[1]), min(HEIGHT, y0 + big.shape[0])
    frame[fy0:fy1, fx0:fx1] = big[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
    gray = np.clip(frame, 0, 255).astype(np.uint8)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), np.array([p.x, p.y, p.size, p.size], np.float32)


@dataclass
class Found:
    """The main detection of one frame: box, landmarks, and whether it is the placed face."""

    box: np.ndarray | None
    landmarks: np.ndarray | None
    hit: bool


def is_the_placed_face(box, truth: np.ndarray) -> bool:
    """A detection counts as the placed face when it overlaps the face's true box with IoU >= 0.3."""
    return bool(iou_matrix(np.array([box], np.float32), truth[None])[0, 0] >= 0.3)


def detect_all(detector, faces: np.ndarray, where: list[Placement]) -> list[Found]:
    out = []
    for face, p in zip(faces, where):
        frame, truth = render(face, p)
        found = detector.detect(frame)
        if not len(found.boxes):
            out.append(Found(None, None, False))
            continue
        main = int(np.argmax(found.boxes[:, 2] * found.boxes[:, 3]))  # the largest face, as the app's main face
        out.append(Found(found.boxes[main].copy(), None if found.landmarks is None else found.landmarks[main].copy(),
                         is_the_placed_face(found.boxes[main], truth)))
    return out


def crops_for(spec: CropSpec, size: int, faces: np.ndarray, where: list[Placement], found: list[Found]) -> np.ndarray:
    """The model inputs the runtime's cropper makes with `spec` for the detected faces (frames re-rendered)."""
    cropper = FaceCropper(size, max_faces=1, spec=spec)
    out = np.zeros((sum(f.hit for f in found), 1, size, size), np.uint8)
    k = 0
    for face, p, f in zip(faces, where, found):
        if not f.hit:
            continue
        frame, _ = render(face, p)
        out[k] = cropper.crop(frame, f.box[None], None if f.landmarks is None else f.landmarks[None])[0]
        k += 1
    return out
