"""Frame sources: camera index, video file, still image, RTSP/HTTP URL, and the built-in demo.

    source = open_source("demo")       # or "0", "clip.mp4", "face.jpg", "rtsp://..."
    image = source.read()              # BGR frame, or None when the source has ended

A live source (camera, URL) is read as fast as it delivers and the pipeline keeps only its newest frame;
a file source can be processed frame by frame.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from runtime.errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
URL_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://")


class Source(ABC):
    live: bool = False  # True: frames arrive in real time and stale ones should be dropped
    fps: float = 30.0

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next BGR frame, or None at the end of the source."""

    def describe(self) -> str:
        return type(self).__name__

    def close(self) -> None:
        pass


# kind -> module whose SOURCE class opens it
SOURCE_MODULES = {"camera": "runtime.sources.capture", "url": "runtime.sources.capture",
                  "video": "runtime.sources.capture", "image": "runtime.sources.image", "demo": "runtime.sources.demo"}


def source_kind(spec: str) -> str:
    if spec == "demo":
        return "demo"
    if spec.isdigit():
        return "camera"
    if spec.lower().startswith(URL_PREFIXES):
        return "url"
    if Path(spec).suffix.lower() in IMAGE_SUFFIXES:
        return "image"
    return "video"


def open_source(spec: str, loop: bool = False, **options) -> Source:
    """Open `spec`; errors a user can cause (no camera, bad path, undecodable file) raise UserError."""
    spec = str(spec).strip()
    if not spec:
        raise UserError("empty --source: give a camera index, a file, a URL or 'demo'")
    kind = source_kind(spec)
    module = importlib.import_module(SOURCE_MODULES[kind])
    return module.open(kind, spec, loop=loop, **options)
