"""Emotion DJ: reads the room's facial expressions on an edge device and turns its mood into a Spotify playlist.

Parts: core (the model contract, shared plumbing; no torch), runtime (the edge app: capture, detection, inference,
rendering, music), train (PyTorch training and evaluation), export (ONNX / int8 / fp16 export). The shipped model
files live in emotion_dj/weights and are installed with the package.
"""
__version__ = "0.4.0"
