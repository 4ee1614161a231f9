"""Face crops for the model: a square framed like FER2013's faces, grayscale, S x S, all faces in one batch.

The framing comes from the model's CropSpec (core/contract.py; fitted on FER2013 val by
benchmarks/pipeline_accuracy.py and carried in the model's metadata):
  - with 5 landmarks (YuNet), the square is rotated so the eye line is level; its centre and size come from the
    landmarks and box in the eye frame through the spec's fitted linear rule;
  - with boxes only (Haar), it is the box's square with a margin and an offset.
One affine warp per face does both, with replicated borders where the square leaves the frame. Large faces
are first taken from a half- or quarter-size copy of the frame (area-averaged), so the warp never shrinks
by more than 2x and does not alias. Every buffer is allocated once per frame size: the per-frame path
allocates nothing.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from emotion_dj.core.contract import LANDMARK_FEATURES, CropSpec

LEVELS = 3  # full, half and quarter size frames


class FaceCropper:
    """Fills a preallocated uint8 batch (max_faces x 1 x S x S)."""

    def __init__(self, size: int, max_faces: int = 32, spec: CropSpec | None = None):
        self.size = size
        self.max_faces = max_faces
        self.spec = spec or CropSpec()
        self.use_landmarks = self.spec.has_landmark_rule
        self._weights = np.array(self.spec.landmark_matrix(), np.float64)  # LANDMARK_FEATURES x 3
        self.features = np.zeros(len(LANDMARK_FEATURES), np.float64)
        self.features[-1] = 1.0  # the constant
        self._placed = np.zeros(3, np.float64)  # centre x, centre y, log side, in the eye frame
        self.batch = np.zeros((max_faces, 1, size, size), np.uint8)
        self._levels: list[np.ndarray] = []
        self._level_ready = [False] * LEVELS
        self._matrix = np.zeros((2, 3), np.float64)

    def _frame_levels(self, frame_bgr: np.ndarray) -> None:
        height, width = frame_bgr.shape[:2]
        if not self._levels or self._levels[0].shape != (height, width):
            self._levels = [np.empty((max(1, height >> k), max(1, width >> k)), np.uint8) for k in range(LEVELS)]
        if frame_bgr.ndim == 3:
            cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY, dst=self._levels[0])
        else:
            self._levels[0][:] = frame_bgr
        for k in range(LEVELS):  # in place: the smaller levels are made only when a large face needs them
            self._level_ready[k] = k == 0

    def _level(self, k: int) -> np.ndarray:
        if not self._level_ready[k]:
            below = self._level(k - 1)
            target = self._levels[k]
            cv2.resize(below, (target.shape[1], target.shape[0]), dst=target, interpolation=cv2.INTER_AREA)
            self._level_ready[k] = True
        return self._levels[k]

    def eye_frame(self, box, landmarks) -> tuple[float, float, float, float, float] | None:
        """The face's eye frame, (mid x, mid y, cos, sin, eye distance), with its LANDMARK_FEATURES written into
        self.features; None when the eyes are less than a pixel apart."""
        right_eye, left_eye = landmarks[0], landmarks[1]  # the person's right eye is on the image's left
        dx, dy = float(left_eye[0] - right_eye[0]), float(left_eye[1] - right_eye[1])
        distance = math.hypot(dx, dy)
        if distance < 1.0:
            return None
        cos, sin = dx / distance, dy / distance
        mid_x, mid_y = float(right_eye[0] + left_eye[0]) / 2.0, float(right_eye[1] + left_eye[1]) / 2.0
        f = self.features
        for k in range(3):  # nose tip, mouth corners
            x, y = float(landmarks[2 + k][0]) - mid_x, float(landmarks[2 + k][1]) - mid_y
            f[2 * k], f[2 * k + 1] = (cos * x + sin * y) / distance, (-sin * x + cos * y) / distance
        bx, by, bw, bh = (float(v) for v in box)
        x, y = bx + bw / 2.0 - mid_x, by + bh / 2.0 - mid_y
        f[6], f[7] = (cos * x + sin * y) / distance, (-sin * x + cos * y) / distance
        f[8], f[9] = bw / distance, bh / distance
        return mid_x, mid_y, cos, sin, distance

    def square(self, box: np.ndarray, landmarks: np.ndarray | None) -> tuple[float, float, float, float]:
        """(centre x, centre y, side, angle in radians) of the crop square for one face."""
        spec = self.spec
        if self.use_landmarks and landmarks is not None:
            frame = self.eye_frame(box, landmarks)
            if frame is not None:
                mid_x, mid_y, cos, sin, distance = frame
                np.dot(self.features, self._weights, out=self._placed)
                ux, uy = float(self._placed[0]), float(self._placed[1])
                # A fitted rule far outside its data (a broken detection) must not give an absurd square.
                side = distance * math.exp(min(max(float(self._placed[2]), 0.0), 3.0))
                cx = mid_x + (cos * ux - sin * uy) * distance
                cy = mid_y + (sin * ux + cos * uy) * distance
                return cx, cy, side, math.atan2(sin, cos)
        x, y, w, h = (float(v) for v in box)
        side = max(w, h) * (1.0 + spec.margin)
        return x + w / 2.0 + spec.shift_x * side, y + h / 2.0 + spec.shift_y * side, side, 0.0

    def crop(self, frame_bgr: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray | None = None,
             mirror: bool = False) -> np.ndarray:
        """A view of the batch holding one crop per box (at most max_faces), valid until the next call. With
        `mirror`, each crop comes out mirrored left-right, by the same single warp (no extra pass)."""
        self._frame_levels(frame_bgr)
        count = min(len(boxes), self.max_faces)
        for i in range(count):
            cx, cy, side, angle = self.square(boxes[i], None if landmarks is None else landmarks[i])
            if side < 2.0:
                self.batch[i, 0] = 0
                continue
            level = 0
            while level < LEVELS - 1 and side / (1 << level) > 2 * self.size:
                level += 1
            factor = float(1 << level)
            scale = self.size / side * factor  # output pixels per pixel of this level
            cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
            # (cx, cy) is continuous (pixel i covers [i, i + 1)); warpAffine works on pixel centres, so the
            # point sits at cx / factor - 0.5 in the level and lands on the output's centre, (S - 1) / 2.
            lx, ly = cx / factor - 0.5, cy / factor - 0.5
            half = (self.size - 1) / 2.0
            m = self._matrix
            m[0, 0], m[0, 1], m[1, 0], m[1, 1] = cos, sin, -sin, cos
            m[0, 2] = half - (cos * lx + sin * ly)
            m[1, 2] = half - (-sin * lx + cos * ly)
            if mirror:  # x' = (S - 1) - x: the first row of the map, reflected about the output's centre
                m[0, 0], m[0, 1], m[0, 2] = -m[0, 0], -m[0, 1], 2 * half - m[0, 2]
            cv2.warpAffine(self._level(level), m, (self.size, self.size), dst=self.batch[i, 0],
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return self.batch[:count]
