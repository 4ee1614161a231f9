"""FER2013 loading: the image-folder layout and the original fer2013.csv, decoded once into uint8.

Splits follow the challenge: Training -> "train", PublicTest -> "val" (every choice: checkpoint, LR
schedule, calibration), PrivateTest -> "test" (reported only). Undecodable files are always dropped;
near-blank images (pixel std below BLANK_STD) are dropped where `drop_blank` is set, which training
does. Val and test keep every decodable image, so reported numbers are on the official 3,589 faces.
"""
from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import cv2
import numpy as np

from emotion_dj.train import ferplus as ferplus_labels
from emotion_dj.train.split import CLASSES, DatasetError, Split

log = logging.getLogger(__name__)

# fer2013.csv numbers its emotions in another order: 0..6 = angry, disgust, fear, happy, sad, surprise, neutral.
CSV_EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SPLITS = ("train", "val", "test")
CSV_USAGE = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
FILE_PREFIX = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
IMG_SIZE = 48
BLANK_STD = 2.0


def resolve_data_dir(data: str | os.PathLike | None) -> Path:
    """--data wins, then FER2013_DIR; a clear DatasetError if neither names an existing folder or CSV."""
    value = data or os.environ.get("FER2013_DIR")
    if not value:
        raise DatasetError("no dataset given: pass --data DIR (or a fer2013.csv) or set FER2013_DIR")
    path = Path(value).expanduser()
    if not path.exists():
        raise DatasetError(f"dataset not found: {path}")
    return path


def _is_blank(image: np.ndarray) -> bool:
    return float(image.std()) < BLANK_STD


def _finish(name: str, images: list[np.ndarray], labels: list[int], dropped: dict[str, int], ids: list[str]) -> Split:
    if not images:
        raise DatasetError(f"split '{name}' has no usable images")
    for reason, count in dropped.items():
        if count:
            log.info("split %s: dropped %d %s image(s)", name, count, reason)
    return Split(name, np.stack(images).astype(np.uint8), np.asarray(labels, dtype=np.int64), dropped, ids)


def _split_of_file(folder_name: str, file_name: str) -> str | None:
    if folder_name == "train":
        return "train"
    for prefix, split in FILE_PREFIX.items():
        if file_name.startswith(prefix + "_"):
            return split
    return None


def load_folder(root: Path, splits: tuple[str, ...], drop_blank_in: tuple[str, ...]) -> dict[str, Split]:
    """Read root/{train,test}/<class>/*.jpg; test files are told apart by their PublicTest_/PrivateTest_ prefix."""
    subfolders = ["train"] if set(splits) == {"train"} else ["test"] if "train" not in splits else ["train", "test"]
    found = {s: ([], [], {"undecodable": 0, "near-blank": 0}, []) for s in splits}
    for sub in subfolders:
        for label, class_name in enumerate(CLASSES):
            class_dir = root / sub / class_name
            if not class_dir.is_dir():
                raise DatasetError(f"malformed dataset: missing folder {class_dir}")
            for path in sorted(class_dir.iterdir()):
                split = _split_of_file(sub, path.name)
                if split not in found:
                    continue
                images, labels, dropped, ids = found[split]
                image = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
                if image is None:
                    dropped["undecodable"] += 1
                    continue
                if image.shape != (IMG_SIZE, IMG_SIZE):
                    image = cv2.resize(image, (IMG_SIZE, IMG_SIZE), interpolation=cv2.INTER_AREA)
                if split in drop_blank_in and _is_blank(image):
                    dropped["near-blank"] += 1
                    continue
                images.append(image)
                labels.append(label)
                ids.append(f"{sub}/{class_name}/{path.name}")
    return {s: _finish(s, *found[s]) for s in splits}


def load_csv(path: Path, splits: tuple[str, ...], drop_blank_in: tuple[str, ...]) -> dict[str, Split]:
    """Read the original fer2013.csv: emotion,pixels,Usage with 2304 space-separated pixels per row."""
    found = {s: ([], [], {"undecodable": 0, "near-blank": 0}, []) for s in splits}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"malformed fer2013.csv {path}: missing column(s) {', '.join(sorted(missing))}")
        for row_number, row in enumerate(reader):
            split = CSV_USAGE.get(row["Usage"])
            if split not in found:
                continue
            images, labels, dropped, ids = found[split]
            try:
                pixels = np.array(row["pixels"].split(), dtype=np.float32)
                emotion = CSV_EMOTIONS[int(row["emotion"])]
            except (ValueError, IndexError):
                pixels, emotion = None, None
            if pixels is None or pixels.size != IMG_SIZE * IMG_SIZE or pixels.min() < 0 or pixels.max() > 255:
                dropped["undecodable"] += 1
                continue
            image = pixels.reshape(IMG_SIZE, IMG_SIZE).astype(np.uint8)
            if split in drop_blank_in and _is_blank(image):
                dropped["near-blank"] += 1
                continue
            images.append(image)
            labels.append(CLASSES.index(emotion))
            ids.append(f"row {row_number}")
    return {s: _finish(s, *found[s]) for s in splits}


LABEL_SETS = ("fer2013", "ferplus")


def load_fer2013(
    data: str | os.PathLike | None = None,
    splits: tuple[str, ...] = SPLITS,
    drop_blank_in: tuple[str, ...] = ("train",),
    labels: str = "fer2013",
    ferplus: str | os.PathLike | None = None,
    target_mode: str = "probability",
    fer2013_vote: float = 0.0,
) -> dict[str, Split]:
    """Load the requested splits from a folder release or a fer2013.csv (a file, or a folder holding one).

    labels="ferplus" relabels every split with the crowd's votes (train.ferplus: the reference rules, 8 classes).
    """
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split(s): {sorted(unknown)}")
    if labels not in LABEL_SETS:
        raise ValueError(f"unknown label set {labels!r} (known: {', '.join(LABEL_SETS)})")
    root = resolve_data_dir(data)
    loaded = _load_images(root, splits, drop_blank_in)
    if labels == "fer2013":
        return loaded
    votes = ferplus_labels.read_votes(ferplus_labels.resolve_labels_file(ferplus, root))
    return {name: ferplus_labels.relabel(split, votes, target_mode, fer2013_vote) for name, split in loaded.items()}


def _load_images(root: Path, splits: tuple[str, ...], drop_blank_in: tuple[str, ...]) -> dict[str, Split]:
    if root.is_file():
        return load_csv(root, splits, drop_blank_in)
    if (root / "fer2013.csv").is_file() and not (root / "train").is_dir():
        return load_csv(root / "fer2013.csv", splits, drop_blank_in)
    if not (root / "train").is_dir() and not (root / "test").is_dir():
        raise DatasetError(f"malformed dataset: {root} has neither train/ and test/ folders nor fer2013.csv")
    return load_folder(root, splits, drop_blank_in)


def resize_faces(images: np.ndarray, size: int) -> np.ndarray:
    """N x S0 x S0 uint8 faces at size x size (bilinear, as evaluation of a checkpoint resizes); as is if already."""
    if images.shape[-1] == size:
        return images
    return np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR) for image in images])
