"""The built-in demo: a clip generated on the fly, no camera, no network, no file written.

Two copies of the portrait that ships with matplotlib (Grace Hopper, `grace_hopper.jpg` in its sample
data), one mirrored, drift across a 640x480 background on smooth, deterministic paths.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from emotion_dj.core.errors import UserError
from emotion_dj.runtime.sources import Source, SourceOptions

WIDTH, HEIGHT = 640, 480


def demo_face() -> np.ndarray:
    """The demo portrait, cropped to head and shoulders (BGR)."""
    try:
        from matplotlib import cbook
    except ImportError:
        raise UserError("--source demo needs matplotlib (pip install -r requirements.txt)") from None
    image = cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    if image is None:
        raise UserError("matplotlib's sample portrait grace_hopper.jpg is missing")
    return image[40:400, 60:456]


class DemoSource(Source):
    live = False
    Options = SourceOptions

    def __init__(self, frames: int = 300, loop: bool = False, fps: float = 30.0, faces: int = 2, face_height: int = 200):
        portrait = demo_face()
        scale = face_height / portrait.shape[0]
        portrait = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        self.sprites = [portrait, cv2.flip(portrait, 1)][:faces]
        self.frames, self.loop, self.fps = frames, loop, fps
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
        self.background = np.dstack([(40 + 60 * xx / WIDTH), (50 + 40 * yy / HEIGHT), 70 + 0 * xx]).astype(np.uint8)
        self.index = 0

    @classmethod
    def claims(cls, spec: str) -> bool:
        return spec == "demo"

    @classmethod
    def create(cls, options: SourceOptions) -> DemoSource:
        return cls(loop=options.loop)

    def positions(self, index: int) -> list[tuple[int, int]]:
        """Top-left corner of each sprite at frame `index`: slow Lissajous paths that never overlap."""
        t = index / self.fps
        places = []
        for k, sprite in enumerate(self.sprites):
            h, w = sprite.shape[:2]
            lane_x = (WIDTH // len(self.sprites)) * k
            span_x = WIDTH // len(self.sprites) - w
            x = lane_x + int((0.5 + 0.5 * math.sin(0.9 * t + 1.7 * k)) * max(span_x, 0))
            y = int((0.5 + 0.5 * math.sin(0.6 * t + 0.8 * k)) * (HEIGHT - h))
            places.append((x, y))
        return places

    def read(self) -> np.ndarray | None:
        if self.index >= self.frames:
            if not self.loop:
                return None
            self.index = 0
        frame = self.background.copy()
        for sprite, (x, y) in zip(self.sprites, self.positions(self.index)):
            h, w = sprite.shape[:2]
            frame[y:y + h, x:x + w] = sprite
        self.index += 1
        return frame

    def describe(self) -> str:
        return f"demo ({len(self.sprites)} faces, {WIDTH}x{HEIGHT})"

