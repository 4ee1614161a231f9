"""Per-stage timings: a fixed ring of recent durations per stage, percentiles on demand (not per frame)."""
from __future__ import annotations

import threading
import time

import numpy as np

from emotion_dj.runtime.frames import StageSummary


class StageTimes:
    def __init__(self, stages: tuple[str, ...], window: int = 2000):
        self.stages = stages
        self._rings = {stage: np.zeros(window, np.float64) for stage in stages}
        self._counts = {stage: 0 for stage in stages}
        self._window = window
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._rings[stage][self._counts[stage] % self._window] = seconds
            self._counts[stage] += 1

    def percentiles(self, stage: str, qs=(50, 95)) -> tuple[float, ...]:
        """Milliseconds at the given percentiles over the recent window (NaN before any sample)."""
        with self._lock:
            n = min(self._counts[stage], self._window)
            values = self._rings[stage][:n].copy()
        return tuple(float(np.percentile(values, q)) * 1e3 if n else float("nan") for q in qs)

    def count(self, stage: str) -> int:
        return self._counts[stage]

    def summary(self) -> dict[str, StageSummary]:
        out = {}
        for stage in self.stages:
            p50, p95 = self.percentiles(stage)
            out[stage] = StageSummary(round(p50, 3), round(p95, 3), self._counts[stage])
        return out


class Timer:
    """`with Timer(times, "detect"):` adds the block's duration to the stage."""

    __slots__ = ("times", "stage", "start")

    def __init__(self, times: StageTimes, stage: str):
        self.times, self.stage = times, stage

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.times.add(self.stage, time.perf_counter() - self.start)
        return False
