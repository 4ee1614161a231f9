"""Drawing on the frame: per face a box, its label and probability bars; a HUD with the live numbers.

Drawing happens in place on the frame the capture thread produced (no copy). Colours are per class,
fixed once from the class list the model carries.
"""
from __future__ import annotations

import cv2
import numpy as np

from emotion_dj.runtime.frames import Result
from emotion_dj.runtime.palette import bgr_color

FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE, BLACK = (255, 255, 255), (0, 0, 0)
STRIP_HEIGHT, STRIP_WIDTH = 28, 240  # the mood strip: 30 s of the main face, 2 px per 0.25 s sample


class Renderer:
    def __init__(self, classes: tuple[str, ...], bar_width: int = 90):
        self.classes = classes
        self.colors = [bgr_color(name) for name in classes]
        self.bar_width = bar_width
        self.label_width = max(cv2.getTextSize(name, FONT, 0.4, 1)[0][0] for name in classes) + 6
        self._hud_key: tuple[str, ...] = ()
        self._hud_width = 0
        self._hud_bottom = 0
        # The live mood strip: redrawn into this buffer when a new sample arrives (4 times a second), copied
        # onto each frame otherwise.
        self.strip = np.zeros((STRIP_HEIGHT, STRIP_WIDTH, 3), np.uint8)

    def draw_faces(self, image: np.ndarray, result: Result) -> None:
        for face in result.faces:
            x, y, w, h = face.box
            best = int(face.probs.argmax())
            color = self.colors[best]
            cv2.rectangle(image, (x, y), (x + w, y + h), color, 2)
            caption = f"#{face.id} {self.classes[best]} {face.probs[best] * 100:.0f}%"
            (tw, th), _ = cv2.getTextSize(caption, FONT, 0.55, 1)
            top = max(y - th - 8, 0)
            cv2.rectangle(image, (x, top), (x + tw + 6, top + th + 8), color, -1)
            cv2.putText(image, caption, (x + 3, top + th + 3), FONT, 0.55, BLACK, 1, cv2.LINE_AA)
            self._draw_bars(image, face.probs, x + w + 6, y)

    def _draw_bars(self, image: np.ndarray, probs: np.ndarray, left: int, top: int) -> None:
        row = 13
        height, width = image.shape[:2]
        if left + self.label_width + self.bar_width > width:  # no room on the right: draw inside the box's left
            left = max(0, left - self.label_width - self.bar_width - 12)
        for i, name in enumerate(self.classes):
            y = top + i * row
            if y + row > height:
                break
            cv2.putText(image, name, (left, y + 10), FONT, 0.4, WHITE, 1, cv2.LINE_AA)
            x0 = left + self.label_width
            cv2.rectangle(image, (x0, y + 2), (x0 + self.bar_width, y + row - 2), (50, 50, 50), -1)
            cv2.rectangle(image, (x0, y + 2), (x0 + int(self.bar_width * float(probs[i])), y + row - 2), self.colors[i], -1)

    def draw_hud(self, image: np.ndarray, lines: list[str]) -> None:
        """Text lines top-left on a dark band, so they stay readable on any background."""
        if not lines:
            return
        line_height = 18
        key = tuple(lines)
        if key != self._hud_key:  # the text changes a few times a second, not every frame: measure it once
            self._hud_key, self._hud_width = key, max(cv2.getTextSize(line, FONT, 0.45, 1)[0][0] for line in lines) + 12
        width = self._hud_width
        self._hud_bottom = line_height * len(lines) + 8
        band = image[0:self._hud_bottom, 0:min(width, image.shape[1])]
        band //= 3  # darken in place
        for i, line in enumerate(lines):
            cv2.putText(image, line, (6, 16 + i * line_height), FONT, 0.45, WHITE, 1, cv2.LINE_AA)

    def update_strip(self, samples: np.ndarray, count: int) -> None:
        """Redraw the strip from the timeline's samples (oldest first): stacked class colours per 0.25 s."""
        strip = self.strip
        strip[:] = 40
        n = len(samples)
        column = STRIP_WIDTH // n
        for i in range(max(0, n - count), n):
            x = i * column
            below = 0.0  # cumulative probability under this class: rows are bounded by rounded cumulative sums
            for c, p in enumerate(samples[i]):
                low, below = below, below + float(p)
                top, bottom = STRIP_HEIGHT - round(min(below, 1.0) * STRIP_HEIGHT), STRIP_HEIGHT - round(low * STRIP_HEIGHT)
                if bottom > top:
                    strip[top:bottom, x:x + column] = self.colors[c]

    def draw_strip(self, image: np.ndarray) -> None:
        """The strip under the HUD, left-aligned with it (a copy of the buffer: nothing drawn per frame)."""
        y, x = self._hud_bottom + 4, 6
        height, width = image.shape[:2]
        if y + STRIP_HEIGHT <= height and x + STRIP_WIDTH <= width:
            image[y:y + STRIP_HEIGHT, x:x + STRIP_WIDTH] = self.strip
