"""A still image as a source: one frame, or the same frame repeatedly (for a window that stays open)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from runtime.errors import UserError
from runtime.sources import Source


class ImageSource(Source):
    def __init__(self, image: np.ndarray, name: str, loop: bool):
        self.image = image
        self.name = name
        self.loop = loop
        self.live = loop  # a repeated still is paced like a live source
        self._done = False

    def read(self) -> np.ndarray | None:
        if self._done:
            return None
        self._done = not self.loop
        return self.image.copy()  # each frame is drawn on, so each needs its own pixels

    def describe(self) -> str:
        return f"image {self.name}"


def open(kind: str, spec: str, loop: bool = False, **_) -> ImageSource:  # noqa: A001
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UserError(f"image not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UserError(f"cannot decode image {path} (corrupt or not an image)")
    return ImageSource(image, path.name, loop)
