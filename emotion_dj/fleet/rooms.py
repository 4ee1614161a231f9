"""Each room's mood from its cameras: the single app's smoothing, weighted by faces.

Every camera reports, about twice a second, the sum of its visible faces' moods (each face's probabilities
smoothed over seconds by the tracker, exactly what the single app's P key averages) and how many faces that is. A
room's mood is the sum over its cameras divided by their faces: each face seen weighs the same, however many faces
its camera sees (a person in view of two cameras counts twice: faces are not matched across cameras). Its point on
the mood plane (music/plane.py, linear in the probabilities) is the mean of the faces' points. A camera whose last
report is older than `stale_s` no longer counts. The room's history (one sample a second, the last 2 hours) is what
the room report draws.
"""
from __future__ import annotations

import time
from collections import deque

import numpy as np

from emotion_dj.music.mood import snapshot

HISTORY_SECONDS = 2 * 3600
SAMPLE_EVERY = 1.0


class Rooms:
    def __init__(self, classes: tuple[str, ...], cameras: dict[str, str], stale_s: float = 5.0):
        self.classes = tuple(classes)
        self.camera_room = dict(cameras)  # camera -> room
        self.stale_s = stale_s
        self.reports: dict[str, tuple[float, np.ndarray, int]] = {}  # camera -> (when, mood sum, faces)
        self.history: dict[str, deque] = {room: deque(maxlen=int(HISTORY_SECONDS / SAMPLE_EVERY))
                                          for room in self.camera_room.values()}
        self._sampled = dict.fromkeys(self.history, 0.0)
        self.started = time.monotonic()

    def report(self, camera: str, mood_sum: np.ndarray, faces: int) -> None:
        now = time.monotonic()
        self.reports[camera] = (now, np.asarray(mood_sum, np.float64), int(faces))
        room = self.camera_room[camera]
        if now - self._sampled[room] >= SAMPLE_EVERY:
            self._sampled[room] = now
            mood = self.mood(room)
            self.history[room].append((round(now - self.started, 2), mood["faces"], mood["probs"]))

    def mood(self, room: str, include_stale: bool = False) -> dict | None:
        """{room, cameras, faces, probs, emotion, title, confidence}; None for a room the fleet does not have.
        include_stale: every camera's last report however old (the summary, once the cameras have ended)."""
        if room not in self.history:
            return None
        now = time.monotonic()
        total, faces, cameras = np.zeros(len(self.classes)), 0, []
        for camera, (when, mood_sum, count) in self.reports.items():
            if self.camera_room[camera] == room and (include_stale or now - when <= self.stale_s):
                total += mood_sum
                faces += count
                cameras.append(camera)
        base = {"room": room, "cameras": sorted(cameras), "faces": faces}
        if faces == 0:
            return {**base, "probs": None, "emotion": None, "title": None, "confidence": None, "point": None}
        snap = snapshot(self.classes, total / faces, faces=faces)
        return {**base, "probs": snap.probs, "emotion": snap.mood.emotion, "title": snap.mood.title,
                "confidence": round(snap.confidence, 4), "point": snap.point.rounded(3)}

    def all(self, include_stale: bool = False) -> dict[str, dict]:
        return {room: self.mood(room, include_stale) for room in self.history}

    def room_history(self, room: str) -> list:
        return list(self.history.get(room, ()))
