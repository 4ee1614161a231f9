"""What a loaded split is: the 7 FER2013 classes, a split's arrays, and the one error a dataset can raise.

Both loaders use it, `data.py` (the images and FER2013's labels) and `ferplus.py` (the crowd's labels), so
neither has to import the other for its types.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Alphabetical, the folder names of the image-folder release.
CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


class DatasetError(Exception):
    """A missing or malformed dataset; the message is one line meant for the user."""


@dataclass
class Split:
    name: str
    images: np.ndarray  # uint8, N x 48 x 48
    labels: np.ndarray  # int64, N (FER+: the majority label, -1 for a training face without one)
    dropped: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)  # "train/angry/x.jpg" (folder) or "row N" (fer2013.csv)
    classes: tuple[str, ...] = CLASSES
    # FER+ only (train.ferplus.relabel): training distributions, raw crowd votes, FER2013's own labels.
    targets: np.ndarray | None = None  # float32, N x C, rows sum to 1
    votes: np.ndarray | None = None  # float32, N x C vote counts
    fer2013_labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)
