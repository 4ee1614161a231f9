"""YuNet face detector (cv2.FaceDetectorYN, OpenCV Model Zoo, MIT license).

The model file is found by --yunet-model / $YUNET_MODEL, else in the user cache, else downloaded once
from its official address and checked against its sha256. Detection runs on a frame scaled down to
`detect_width` (320 by default): faces at webcam distance are large, and YuNet's cost grows with area.
"""
from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from pathlib import Path

import cv2
import numpy as np

from runtime.detectors import Detector, DetectorUnavailable

log = logging.getLogger(__name__)

MODEL_NAME = "face_detection_yunet_2023mar.onnx"
MODEL_URL = "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/" + MODEL_NAME
MODEL_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"


def cache_dir() -> Path:
    base = os.environ.get("EMOTION_DJ_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "emotion-dj")
    return Path(base).expanduser() / "models"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def locate_model(explicit: str | os.PathLike | None = None, download: bool = True, timeout: float = 15.0) -> Path:
    """The verified YuNet model: the explicit path, $YUNET_MODEL, the cache, or a fresh download."""
    explicit = explicit or os.environ.get("YUNET_MODEL")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise DetectorUnavailable(f"YuNet model not found: {path}")
        return path
    cached = cache_dir() / MODEL_NAME
    if cached.is_file() and _sha256(cached) == MODEL_SHA256:
        return cached
    if not download:
        raise DetectorUnavailable(f"YuNet model not in {cached.parent} and downloads are off")
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".part")
    log.info("downloading YuNet from %s", MODEL_URL)
    try:
        with urllib.request.urlopen(MODEL_URL, timeout=timeout) as response:
            partial.write_bytes(response.read())
    except OSError as error:
        raise DetectorUnavailable(f"cannot download YuNet (offline?): {getattr(error, 'reason', error)}; "
                                  f"put {MODEL_NAME} in {cached.parent} or pass --yunet-model") from None
    if _sha256(partial) != MODEL_SHA256:
        partial.unlink()
        raise DetectorUnavailable("downloaded YuNet model failed its sha256 check; not used")
    partial.replace(cached)
    return cached


class YuNetDetector(Detector):
    name = "yunet"

    def __init__(self, model_path: Path, detect_width: int, score_threshold: float):
        self.model_path = model_path
        self.detect_width = detect_width
        self.score_threshold = score_threshold
        self._net = None
        self._frame_shape: tuple[int, int] | None = None
        self._scale = 1.0
        self._small: np.ndarray | None = None

    @classmethod
    def create(cls, yunet_model: str | None = None, detect_width: int = 320, score_threshold: float = 0.7,
               download: bool = True, **_) -> "YuNetDetector":
        if not hasattr(cv2, "FaceDetectorYN"):
            raise DetectorUnavailable("this OpenCV has no FaceDetectorYN: pip install opencv-contrib-python")
        return cls(locate_model(yunet_model, download), detect_width, score_threshold)

    def _configure(self, height: int, width: int) -> None:
        """Set the network input size for this frame size once, not per frame."""
        self._scale = min(1.0, self.detect_width / width) if self.detect_width else 1.0
        size = (max(1, round(width * self._scale)), max(1, round(height * self._scale)))
        if self._net is None:
            self._net = cv2.FaceDetectorYN.create(str(self.model_path), "", size, self.score_threshold, 0.3, 50)
        self._net.setInputSize(size)
        self._small = np.empty((size[1], size[0], 3), np.uint8) if self._scale < 1.0 else None
        self._frame_shape = (height, width)

    def detect(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if frame_bgr.ndim == 2:
            frame_bgr = cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2BGR)
        if frame_bgr.shape[:2] != self._frame_shape:
            self._configure(*frame_bgr.shape[:2])
        image = frame_bgr
        if self._small is not None:
            image = cv2.resize(frame_bgr, self._small.shape[1::-1], dst=self._small, interpolation=cv2.INTER_AREA)
        _, faces = self._net.detect(image)
        if faces is None:
            return np.empty((0, 4), np.int32), np.empty(0, np.float32)
        boxes = np.round(faces[:, :4] / self._scale).astype(np.int32)
        return boxes, faces[:, -1].astype(np.float32)

    def describe(self) -> str:
        return f"yunet@{self.detect_width}" if self.detect_width else "yunet"


DETECTOR = YuNetDetector
