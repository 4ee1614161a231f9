"""A still image as a source: one frame, or the same frame repeatedly (for a window that stays open)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from runtime.sources import Source, SourceError, SourceOptions

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


class ImageSource(Source):
    def __init__(self, image: np.ndarray, name: str, loop: bool):
        self.image = image
        self.name = name
        self.loop = loop
        self.live = loop  # a repeated still is paced like a live source
        self._done = False

    @classmethod
    def claims(cls, spec: str) -> bool:
        return Path(spec).suffix.lower() in IMAGE_SUFFIXES

    @classmethod
    def create(cls, options: SourceOptions) -> "ImageSource":
        path = Path(options.spec).expanduser()
        if not path.is_file():
            raise SourceError(f"image not found: {path}")
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"cannot decode image {path} (corrupt or not an image)")
        return cls(image, path.name, options.loop)

    def read(self) -> np.ndarray | None:
        if self._done:
            return None
        self._done = not self.loop
        return self.image.copy()  # each frame is drawn on, so each needs its own pixels

    def describe(self) -> str:
        return f"image {self.name}"
