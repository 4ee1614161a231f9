"""Frame sources: one class per kind, one registry line each (core.plugins).

    source = open_source("demo")       # or "0", "clip.mp4", "face.jpg", "rtsp://..."
    image = source.read()              # BGR frame, or None when the source has ended

Which kind a --source string is, is decided by SOURCE_ORDER: the first kind whose `claims(spec)` is true.
A live source (camera, stream) is read as fast as it delivers and the pipeline keeps only its newest
frame; a file source can be processed frame by frame. A live source that stops delivering is an error
(or a reconnect), never a normal end.
"""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import numpy as np

from emotion_dj.core.errors import UserError
from emotion_dj.core.plugins import Plugin, Registry, Unavailable
from emotion_dj.core.redact import redact


class SourceError(UserError):
    """A source that cannot be opened or that failed while running; the message is one line, without secrets."""


@dataclass
class SourceOptions:
    spec: str = ""
    loop: bool = False  # start again at the end (a window showing a file or an image)


class Source(Plugin):
    Options = SourceOptions
    live: bool = False  # True: frames arrive in real time and stale ones should be dropped
    fps: float = 30.0

    @classmethod
    @abstractmethod
    def claims(cls, spec: str) -> bool:
        """True if a --source string names this kind of source."""

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next BGR frame, or None at the end of a finite source. A live source that fails raises SourceError."""

    def describe(self) -> str:
        return type(self).__name__

    def close(self) -> None:
        pass


SOURCES = Registry("source", {
    "demo": "emotion_dj.runtime.sources.demo:DemoSource",
    "camera": "emotion_dj.runtime.sources.capture:CameraSource",
    "stream": "emotion_dj.runtime.sources.capture:StreamSource",
    "image": "emotion_dj.runtime.sources.image:ImageSource",
    "video": "emotion_dj.runtime.sources.capture:VideoFileSource",
}, unavailable=Unavailable)
SOURCE_ORDER = ("demo", "camera", "stream", "image", "video")  # the first kind that claims a spec opens it


def source_kind(spec: str) -> str:
    for kind in SOURCE_ORDER:
        if SOURCES.plugin_class(kind).claims(spec):
            return kind
    raise UserError(f"cannot tell what --source '{redact(spec)}' is")


def open_source(spec: str, **options) -> Source:
    """Open `spec`; errors a user can cause (no camera, bad path, undecodable file) raise UserError."""
    spec = str(spec).strip()
    if not spec:
        raise UserError("empty --source: give a camera index, a file, a URL or 'demo'")
    return SOURCES.create(source_kind(spec), spec=spec, **options)
