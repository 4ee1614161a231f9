"""Emotion DJ: reads the room's facial expressions on an edge device and turns its mood into a Spotify playlist.

Parts: core (the model contract, shared plumbing; no torch), runtime (the edge app: capture, detection, inference,
rendering, music), train (PyTorch training and evaluation), export (ONNX / int8 / fp16 export). The shipped model
files live in emotion_dj/weights and are installed with the package.
"""
__version__ = "0.4.0"

# Before any part of the project (or a benchmark, or a test) can import ONNX Runtime, Ray or matplotlib: their
# telemetry stays off and their caches stay in the project's folders (core/privacy.py, docs/PRIVACY.md).
from emotion_dj.core.privacy import keep_local as _keep_local  # noqa: E402

_keep_local()
