"""Face detectors: one module per detector, one registry line each (core.plugins).

    detector = create_detector("auto")           # YuNet (shipped in weights/), else Haar
    found = detector.detect(frame_bgr)           # Detections: boxes int32 N x 4 (x, y, w, h) in frame pixels,
                                                 # scores float32 N, landmarks float32 N x 5 x 2 or None
"""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from emotion_dj.core.plugins import Plugin, Registry, Unavailable


class DetectorUnavailable(Unavailable):
    """This detector cannot run here (e.g. YuNet's model file is missing or broken)."""


class Detections(NamedTuple):
    boxes: np.ndarray  # int32 N x 4: x, y, w, h in frame pixels
    scores: np.ndarray  # float32 N
    landmarks: np.ndarray | None = None  # float32 N x 5 x 2: right eye, left eye, nose tip, mouth corners (image x, y)


NO_FACES = Detections(np.empty((0, 4), np.int32), np.empty(0, np.float32), None)


@dataclass
class DetectorOptions:
    detect_width: int = 320  # frames are scaled to this width for detection (0: full size)


class Detector(Plugin):
    Options = DetectorOptions

    @abstractmethod
    def detect(self, frame_bgr: np.ndarray) -> Detections:
        """Faces in a BGR frame, largest confidence first where the detector scores them."""

    def describe(self) -> str:
        return self.name


DETECTORS = Registry("detector", {
    "yunet": "emotion_dj.runtime.detectors.yunet:YuNetDetector",
    "haar": "emotion_dj.runtime.detectors.haar:HaarDetector",
}, auto=("yunet", "haar"), unavailable=DetectorUnavailable, warn_fallback=True)
DETECTOR_NAMES = DETECTORS.names


def create_detector(name: str = "auto", **options) -> Detector:
    return DETECTORS.create(name, **options)
