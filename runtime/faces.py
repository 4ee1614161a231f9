"""Face crops for the model: square, with a margin like FER2013's framing, grayscale, S x S, in one batch."""
from __future__ import annotations

import cv2
import numpy as np


class FaceCropper:
    """Fills a preallocated uint8 batch (max_faces x 1 x S x S); the per-frame path allocates nothing."""

    def __init__(self, size: int, max_faces: int = 32, margin: float = 0.15):
        self.size = size
        self.max_faces = max_faces
        self.margin = margin
        self.batch = np.zeros((max_faces, 1, size, size), np.uint8)
        self._gray: np.ndarray | None = None

    def crop(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """A view of the batch holding one crop per box (at most max_faces), valid until the next call."""
        if self._gray is None or self._gray.shape != frame_bgr.shape[:2]:
            self._gray = np.empty(frame_bgr.shape[:2], np.uint8)
        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY, dst=self._gray) if frame_bgr.ndim == 3 else frame_bgr
        height, width = gray.shape
        count = min(len(boxes), self.max_faces)
        for i in range(count):
            x, y, w, h = boxes[i]
            side = max(w, h) * (1.0 + self.margin)
            cx, cy = x + w / 2.0, y + h / 2.0
            x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
            x1, y1 = min(width, int(cx + side / 2)), min(height, int(cy + side / 2))
            if x1 - x0 < 2 or y1 - y0 < 2:
                self.batch[i, 0] = 0
                continue
            cv2.resize(gray[y0:y1, x0:x1], (self.size, self.size), dst=self.batch[i, 0], interpolation=cv2.INTER_AREA)
        return self.batch[:count]
