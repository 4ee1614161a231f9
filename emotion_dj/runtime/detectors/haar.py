"""Haar cascade face detector (opencv-contrib's bundled frontal-face cascade). Boxes only, no landmarks."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from emotion_dj.runtime.detectors import (
    NO_FACES,
    Detections,
    Detector,
    DetectorOptions,
    DetectorUnavailable,
)

CASCADE = "haarcascade_frontalface_default.xml"


@dataclass
class HaarOptions(DetectorOptions):
    min_face: int = 24  # smallest face, in frame pixels


class HaarDetector(Detector):
    name = "haar"
    Options = HaarOptions

    def __init__(self, cascade: cv2.CascadeClassifier, detect_width: int, min_face: int):
        self.cascade = cascade
        self.detect_width = detect_width
        self.min_face = min_face

    @classmethod
    def create(cls, options: HaarOptions) -> HaarDetector:
        if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
            raise DetectorUnavailable("this OpenCV has no CascadeClassifier: pip install opencv-contrib-python")
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
        if cascade.empty():
            raise DetectorUnavailable(f"could not load {CASCADE} from {cv2.data.haarcascades}")
        return cls(cascade, options.detect_width, options.min_face)

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY) if frame_bgr.ndim == 3 else frame_bgr
        scale = 1.0
        if self.detect_width and gray.shape[1] > self.detect_width:
            scale = gray.shape[1] / self.detect_width
            gray = cv2.resize(gray, (self.detect_width, max(1, round(gray.shape[0] / scale))), interpolation=cv2.INTER_AREA)
        found = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                              minSize=(max(1, int(self.min_face / scale)),) * 2)
        if len(found) == 0:
            return NO_FACES
        boxes = np.round(np.asarray(found, np.float32) * scale).astype(np.int32)
        return Detections(boxes, np.ones(len(boxes), np.float32), None)

    def describe(self) -> str:
        return f"haar@{self.detect_width}" if self.detect_width else "haar"
