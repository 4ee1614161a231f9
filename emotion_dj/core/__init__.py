"""The torch-free core every part of Emotion DJ shares: the model contract, user errors, paths, CLI plumbing.

Dependencies point one way: core <- train <- export, and core <- runtime. Nothing here imports torch,
OpenCV or ONNX Runtime, so the edge runtime stays lean.
"""
