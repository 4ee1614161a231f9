"""Haar cascade face detector (opencv-contrib's bundled frontal-face cascade)."""
from __future__ import annotations

import cv2
import numpy as np

from runtime.detectors import Detector, DetectorUnavailable

CASCADE = "haarcascade_frontalface_default.xml"


class HaarDetector(Detector):
    name = "haar"

    def __init__(self, cascade: "cv2.CascadeClassifier", detect_width: int, min_face: int):
        self.cascade = cascade
        self.detect_width = detect_width
        self.min_face = min_face

    @classmethod
    def create(cls, detect_width: int = 0, min_face: int = 24, **_) -> "HaarDetector":
        if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
            raise DetectorUnavailable("this OpenCV has no CascadeClassifier: pip install opencv-contrib-python")
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
        if cascade.empty():
            raise DetectorUnavailable(f"could not load {CASCADE} from {cv2.data.haarcascades}")
        return cls(cascade, detect_width, min_face)

    def detect(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY) if frame_bgr.ndim == 3 else frame_bgr
        scale = 1.0
        if self.detect_width and gray.shape[1] > self.detect_width:
            scale = gray.shape[1] / self.detect_width
            gray = cv2.resize(gray, (self.detect_width, round(gray.shape[0] / scale)), interpolation=cv2.INTER_AREA)
        found = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                              minSize=(max(1, int(self.min_face / scale)),) * 2)
        if len(found) == 0:
            return np.empty((0, 4), np.int32), np.empty(0, np.float32)
        boxes = np.round(np.asarray(found, np.float32) * scale).astype(np.int32)
        return boxes, np.ones(len(boxes), np.float32)


DETECTOR = HaarDetector
