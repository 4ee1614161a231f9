"""A test's whole time, stated once: each wait takes at most what is left of it, so a slow machine fails the test
with its own message (which wait ran out) before pytest's timeout kills it without one."""
from __future__ import annotations

import time


class Budget:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def left(self, at_most: float | None = None) -> float:
        """What is left (at least a second, so a last wait still looks once), capped at `at_most`."""
        left = max(1.0, self.ends - time.monotonic())
        return left if at_most is None else min(left, at_most)
