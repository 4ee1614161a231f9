"""A still image as a source: one frame, or the same frame repeatedly (for a window that stays open)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from emotion_dj.core.redact import redact
from emotion_dj.runtime.sources import Source, SourceError, SourceOptions

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
# A camera frame is at most a few megapixels; 50 MP (e.g. 8660 x 5773) is a large photo. Above it, decoding alone
# would take gigabytes (a 390 KB PNG can hold 20000 x 20000 pixels), so the size is read from the header first.
MAX_IMAGE_PIXELS = 50_000_000


def check_image_size(path: Path) -> None:
    """Refuse an image above MAX_IMAGE_PIXELS from its header, before its pixels are decoded."""
    import warnings

    from PIL import Image, UnidentifiedImageError  # Pillow comes with matplotlib; it reads the header only

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError:  # larger than Pillow's own limit (about 179 MP)
        width, height = None, None
    except (UnidentifiedImageError, OSError, ValueError):
        return  # not a format Pillow knows: OpenCV decides below
    if width is None or width * height > MAX_IMAGE_PIXELS:
        size = "" if width is None else f" is {width} x {height} pixels ({width * height / 1e6:.0f} MP):"
        raise SourceError(f"image {path.name}{size} larger than the {MAX_IMAGE_PIXELS // 1_000_000} MP limit; "
                          "scale it down first")


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
    def create(cls, options: SourceOptions) -> ImageSource:
        path = Path(options.spec).expanduser()
        if not path.is_file():
            raise SourceError(f"image not found: {redact(path)}")
        check_image_size(path)
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"cannot decode image {redact(path)} (corrupt or not an image)")
        return cls(image, path.name, options.loop)

    def read(self) -> np.ndarray | None:
        if self._done:
            return None
        self._done = not self.loop
        return self.image.copy()  # each frame is drawn on, so each needs its own pixels

    def describe(self) -> str:
        return f"image {redact(self.name)}"
