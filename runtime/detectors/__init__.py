"""Face detectors behind one interface, registered by name (one module per detector).

    detector = create_detector("auto")     # YuNet when its model can be had, else Haar
    boxes, scores = detector.detect(frame_bgr)   # boxes: int32 N x 4 (x, y, w, h) in frame pixels
"""
from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod

import numpy as np

from runtime.errors import UserError

log = logging.getLogger(__name__)

DETECTOR_MODULES = {"yunet": "runtime.detectors.yunet", "haar": "runtime.detectors.haar"}
DETECTOR_NAMES = ("auto", *DETECTOR_MODULES)


class DetectorUnavailable(UserError):
    """This detector cannot run here (e.g. YuNet's model cannot be found or downloaded)."""


class Detector(ABC):
    name: str = ""

    @abstractmethod
    def detect(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Faces in a BGR frame: (int32 N x 4 boxes as x, y, w, h; float32 N scores)."""

    def describe(self) -> str:
        return self.name


def create_detector(name: str = "auto", **options) -> Detector:
    if name not in DETECTOR_NAMES:
        raise UserError(f"unknown detector '{name}': choose from {', '.join(DETECTOR_NAMES)}")
    if name != "auto":
        return importlib.import_module(DETECTOR_MODULES[name]).DETECTOR.create(**options)
    try:
        detector = importlib.import_module(DETECTOR_MODULES["yunet"]).DETECTOR.create(**options)
    except DetectorUnavailable as why:
        log.warning("YuNet unavailable (%s); falling back to Haar", why)
        detector = importlib.import_module(DETECTOR_MODULES["haar"]).DETECTOR.create(**options)
    log.info("detector auto -> %s", detector.describe())
    return detector
