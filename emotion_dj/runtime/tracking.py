"""Face identities across frames (greedy IoU matching) and per-face smoothing of the probabilities.

Each track keeps two exponential moving averages with time constants in seconds (so the behaviour does
not depend on the frame rate): a short one for the label on screen (no flicker) and a long one, the
mood of the last few seconds, which the playlist snapshot uses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Track:
    id: int
    box: np.ndarray  # x, y, w, h
    probs: np.ndarray  # smoothed for display
    mood: np.ndarray  # smoothed over seconds, for the playlist
    raw: np.ndarray  # the latest unsmoothed probabilities
    last_seen: float
    misses: int = 0

    @property
    def area(self) -> int:
        return int(self.box[2]) * int(self.box[3])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (N x 4, xywh) with every box in b (M x 4)."""
    ax0, ay0, ax1, ay1 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx0, by0, bx1, by1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    inter = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None) * np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    union = (a[:, 2:3] * a[:, 3:4]) + (b[:, 2] * b[:, 3]) - inter
    return inter / np.maximum(union, 1e-9)


class FaceTracker:
    def __init__(self, iou_threshold: float = 0.3, max_misses: int = 10, label_tau: float = 0.4, mood_tau: float = 3.0):
        self.iou_threshold = iou_threshold
        self.max_misses = max_misses
        self.label_tau = label_tau
        self.mood_tau = mood_tau
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, boxes: np.ndarray, probs: np.ndarray, timestamp: float) -> list[Track]:
        """Match this frame's faces to the tracks; returns the tracks seen in this frame, in box order."""
        matched: list[Track | None] = [None] * len(boxes)
        used: set[int] = set()  # indices of tracks already given a box
        if self.tracks and len(boxes):
            overlaps = iou_matrix(np.array([t.box for t in self.tracks], np.float32), boxes.astype(np.float32))
            # Greedy: best overlaps first; each track and each box used once.
            for flat in np.argsort(-overlaps, axis=None):
                ti, bi = divmod(int(flat), len(boxes))
                if overlaps[ti, bi] < self.iou_threshold:
                    break
                if matched[bi] is None and ti not in used:
                    matched[bi] = self.tracks[ti]
                    used.add(ti)
        for ti, track in enumerate(self.tracks):
            if ti not in used:
                track.misses += 1
        for i, track in enumerate(matched):
            if track is None:
                matched[i] = Track(self._next_id, boxes[i].copy(), probs[i].copy(), probs[i].copy(), probs[i].copy(), timestamp)
                self._next_id += 1
                self.tracks.append(matched[i])
                continue
            dt = max(timestamp - track.last_seen, 0.0)
            track.probs += (1.0 - math.exp(-dt / self.label_tau)) * (probs[i] - track.probs)
            track.mood += (1.0 - math.exp(-dt / self.mood_tau)) * (probs[i] - track.mood)
            track.raw = probs[i].copy()
            track.box[:] = boxes[i]
            track.last_seen, track.misses = timestamp, 0
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        return matched

    def main_face(self) -> Track | None:
        """The largest face currently in view (the person nearest the camera)."""
        visible = [t for t in self.tracks if t.misses == 0]
        return max(visible, key=lambda t: t.area, default=None)


class MoodTimeline:
    """The main face's mood, sampled every `interval` seconds into a fixed ring (the last `seconds`): what the
    live strip under the HUD draws. One sample per interval, whatever the number of faces: no work per face."""

    def __init__(self, classes: int, seconds: float = 30.0, interval: float = 0.25):
        self.interval = interval
        self.samples = np.zeros((int(seconds / interval), classes), np.float32)
        self.count = 0  # samples taken so far; the newest is at (count - 1) % len(samples)
        self._next = 0.0

    def update(self, timestamp: float, mood: np.ndarray | None) -> bool:
        """Take a sample if one is due; True if one was taken. No face: a blank (all-zero) sample."""
        if timestamp < self._next:
            return False
        self._next = timestamp + self.interval
        row = self.samples[self.count % len(self.samples)]
        if mood is None:
            row[:] = 0
        else:
            row[:] = mood
        self.count += 1
        return True

    def ordered_into(self, out: np.ndarray) -> int:
        """Copy the samples oldest first into `out` (same shape); returns how many are real."""
        n = len(self.samples)
        start = self.count % n
        out[: n - start] = self.samples[start:]
        out[n - start:] = self.samples[:start]
        return min(self.count, n)
