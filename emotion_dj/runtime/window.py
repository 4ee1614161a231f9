"""The preview window (main thread only: macOS requires it) and the headless decision."""
from __future__ import annotations

import logging
import os
import sys

import cv2
import numpy as np

log = logging.getLogger(__name__)
QUIT_KEYS = {ord("q"), ord("Q"), 27}  # q, Q, Esc


def display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
    def __init__(self, title: str):
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)  # no Qt toolbar over the picture
        self.shown = 0

    @classmethod
    def open(cls, title: str) -> Window | None:
        """A window, or None (headless) where no display can show one."""
        if not display_available():
            log.info("no display: running headless")
            return None
        try:
            return cls(title)
        except cv2.error as error:
            log.warning("cannot open a window (%s): running headless", str(error).strip().splitlines()[-1])
            return None

    def show(self, image: np.ndarray) -> None:
        cv2.imshow(self.title, image)
        self.shown += 1

    def poll_key(self) -> int | None:
        """The key pressed since the last poll (lower 8 bits), or None. Also pumps the GUI events."""
        key = cv2.waitKey(1)
        return None if key < 0 else key & 0xFF

    def closed(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        cv2.destroyWindow(self.title)
        cv2.waitKey(1)
