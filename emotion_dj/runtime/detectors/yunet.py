"""YuNet face detector (cv2.FaceDetectorYN; OpenCV Model Zoo, MIT licence, weights/THIRD_PARTY.md).

The model ships in weights/ and is loaded from there unless --yunet-model / $YUNET_MODEL names another
file; nothing is downloaded. Detection runs on a frame scaled down to `detect_width` (320 by default):
faces at webcam distance are large, and YuNet's cost grows with area.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emotion_dj.core.paths import WEIGHTS_DIR
from emotion_dj.runtime.detectors import (
    NO_FACES,
    Detections,
    Detector,
    DetectorOptions,
    DetectorUnavailable,
)

log = logging.getLogger(__name__)

SHIPPED_MODEL = WEIGHTS_DIR / "face_detection_yunet_2023mar.onnx"
SHIPPED_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"


@dataclass
class YuNetOptions(DetectorOptions):
    yunet_model: Path | None = None  # None: the shipped file
    score_threshold: float = 0.7


def check_model(explicit: str | Path | None) -> Path:
    """The model file to load: an explicit path as given, else the shipped file, verified by its sha256."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise DetectorUnavailable(f"YuNet model not found: {path}")
        return path
    if not SHIPPED_MODEL.is_file():
        raise DetectorUnavailable(f"the shipped YuNet model {SHIPPED_MODEL} is missing (restore weights/ from git)")
    if hashlib.sha256(SHIPPED_MODEL.read_bytes()).hexdigest() != SHIPPED_SHA256:
        raise DetectorUnavailable(f"{SHIPPED_MODEL} fails its sha256 check (restore weights/ from git)")
    return SHIPPED_MODEL


class YuNetDetector(Detector):
    name = "yunet"
    Options = YuNetOptions

    def __init__(self, net: cv2.FaceDetectorYN, model_path: Path, detect_width: int):
        self._net = net
        self.model_path = model_path
        self.detect_width = detect_width
        self._frame_shape: tuple[int, int] | None = None
        self._scale = 1.0
        self._small: np.ndarray | None = None

    @classmethod
    def create(cls, options: YuNetOptions) -> YuNetDetector:
        if not hasattr(cv2, "FaceDetectorYN"):
            raise DetectorUnavailable("this OpenCV has no FaceDetectorYN: pip install opencv-contrib-python")
        path = check_model(options.yunet_model)
        try:  # load now, so a broken file is an error at start, not at the first frame
            net = cv2.FaceDetectorYN.create(str(path), "", (320, 240), options.score_threshold, 0.3, 50)
            net.detect(np.zeros((240, 320, 3), np.uint8))
        except cv2.error as error:
            lines = str(error).strip().splitlines()
            raise DetectorUnavailable(f"cannot load YuNet model {path}: {lines[-1] if lines else 'OpenCV error'}") from None
        return cls(net, path, options.detect_width)

    def _configure(self, height: int, width: int) -> None:
        """Set the network input size for this frame size once, not per frame."""
        self._scale = min(1.0, self.detect_width / width) if self.detect_width else 1.0
        size = (max(1, round(width * self._scale)), max(1, round(height * self._scale)))
        self._net.setInputSize(size)
        self._small = np.empty((size[1], size[0], 3), np.uint8) if self._scale < 1.0 else None
        self._frame_shape = (height, width)

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        if frame_bgr.ndim == 2:
            frame_bgr = cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2BGR)
        if frame_bgr.shape[:2] != self._frame_shape:
            self._configure(*frame_bgr.shape[:2])
        image = frame_bgr
        if self._small is not None:
            image = cv2.resize(frame_bgr, self._small.shape[1::-1], dst=self._small, interpolation=cv2.INTER_AREA)
        _, faces = self._net.detect(image)
        if faces is None:
            return NO_FACES
        boxes = np.round(faces[:, :4] / self._scale).astype(np.int32)
        landmarks = (faces[:, 4:14] / self._scale).reshape(-1, 5, 2).astype(np.float32)
        return Detections(boxes, faces[:, -1].astype(np.float32), landmarks)

    def describe(self) -> str:
        return f"yunet@{self.detect_width}" if self.detect_width else "yunet"
