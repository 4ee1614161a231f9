"""FER+ crowd labels (10 taggers per FER2013 image) turned into targets by the reference rules.

The rules are those of `src/ferplus.py` in github.com/microsoft/FERPlus (Barsoum et al. 2016), re-written here:
- a single vote for an emotion is an outlier and is dropped;
- "majority": the image keeps its top emotion if that has more than half of the remaining votes;
- "probability": the top emotions (at most 3, until 75% of the votes are covered) form the target distribution;
  fewer than half of the votes covered, or "unknown" / "not a face" on top, and the image is left out.
Evaluation always uses the majority rule (the reference's test set: 3,199 val and 3,153 test faces).

The votes file (`ferplus_labels.csv`) is keyed by the FER2013 image's path (folder release) and its row in
fer2013.csv, so both of the loader's forms join it.
"""
from __future__ import annotations

import csv
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from emotion_dj.train.split import CLASSES, DatasetError, Split

# The FER+ file's vote columns, in its order; the last two are not emotions.
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
EMOTION_VOTES = 8
# FER2013's seven classes keep their names and indices; contempt is the eighth.
FERPLUS_CLASSES = (*CLASSES, "contempt")
_CLASS_OF_COLUMN = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
                    "anger": "angry", "disgust": "disgust", "fear": "fear", "contempt": "contempt"}
# column i of the votes -> index into FERPLUS_CLASSES
COLUMN_TO_CLASS = np.array([FERPLUS_CLASSES.index(_CLASS_OF_COLUMN[c]) for c in VOTE_COLUMNS[:EMOTION_VOTES]])
TARGET_MODES = ("probability", "majority")
LABELS_FILE = "ferplus_labels.csv"


def kept_votes(votes: np.ndarray, mode: str) -> np.ndarray | None:
    """The reference rule on one image's 10 vote counts (file order): the votes it keeps (10 numbers, not yet
    normalised), or None where the image is "unknown" (no emotion wins, or unknown / not-a-face does)."""
    raw = np.where(votes > 1, votes, 0).astype(np.float64)  # single votes are outliers
    total = raw.sum()
    if total == 0:
        return None
    kept = np.zeros_like(raw)
    if mode == "majority":
        top = int(raw.argmax())
        if raw[top] <= 0.5 * total:
            return None
        kept[top] = raw[top]
    elif mode == "probability":
        covered, count, valid = 0.0, 0, True
        while covered < 0.75 * total and count < 3 and valid:
            peak = raw.max()
            for i in range(len(raw)):
                if raw[i] == peak:
                    kept[i], raw[i] = peak, 0.0
                    covered += peak
                    count += 1
                    if i >= EMOTION_VOTES:  # unknown or not-a-face ties the top: stop here
                        valid = False
                        if kept.sum() > peak:  # emotions came first: they stand, unknown does not
                            kept[i] = 0.0
                            count -= 1
                        break
        if kept.sum() <= 0.5 * total or count > 3:
            return None
    else:
        raise ValueError(f"unknown FER+ target mode {mode!r} (known: {', '.join(TARGET_MODES)})")
    if int(kept.argmax()) >= EMOTION_VOTES:
        return None
    return kept[:EMOTION_VOTES]


def to_classes(column_values: np.ndarray) -> np.ndarray:
    """Values over the 8 emotion columns (file order) -> the same values in FERPLUS_CLASSES order."""
    out = np.zeros(column_values.shape[:-1] + (len(FERPLUS_CLASSES),), dtype=np.float32)
    out[..., COLUMN_TO_CLASS] = column_values
    return out


def resolve_labels_file(labels: str | os.PathLike | None, data_root: Path | None) -> Path:
    """--ferplus wins, then FERPLUS_LABELS, then ferplus/ferplus_labels.csv beside the FER2013 folder."""
    value = labels or os.environ.get("FERPLUS_LABELS")
    if value:
        path = Path(value).expanduser()
        path = path / LABELS_FILE if path.is_dir() else path
    elif data_root is not None:
        base = data_root.parent if data_root.is_file() else data_root
        path = base.parent / "ferplus" / LABELS_FILE
    else:
        raise DatasetError("no FER+ votes given: pass --ferplus FILE or set FERPLUS_LABELS")
    if not path.is_file():
        raise DatasetError(f"FER+ votes not found: {path} (pass --ferplus FILE or set FERPLUS_LABELS)")
    return path


def read_votes(path: Path) -> dict[str, np.ndarray]:
    """Every image's 10 vote counts, keyed by its file path and by 'row N' (its fer2013.csv row)."""
    votes = {}
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = {"file", "row", *VOTE_COLUMNS} - set(reader.fieldnames or ())
            if missing:
                raise DatasetError(f"malformed FER+ votes {path}: missing column(s) {', '.join(sorted(missing))}")
            for line in reader:
                counts = np.array([int(line[c]) for c in VOTE_COLUMNS], dtype=np.int64)
                votes[line["file"]] = votes[f"row {int(line['row'])}"] = counts
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read FER+ votes {path}: {error}") from None
    return votes


def relabel(split: Split, votes: dict[str, np.ndarray], mode: str, fer2013_vote: float = 0.0) -> Split:
    """The split with FER+ labels: images the rule leaves out are dropped (counted in `dropped`).

    labels: the majority label (-1 where there is none; only training under "probability" keeps such images);
    targets: the training distribution under `mode`, with FER2013's own label counted as `fer2013_vote` more votes;
    votes: the raw emotion votes (8 per image, FERPLUS_CLASSES order), for agreement with the crowd;
    fer2013_labels: the original label, for continuity.
    """
    keep, labels, targets, crowd = [], [], [], []
    unmatched = 0
    for i, key in enumerate(split.ids):
        counts = votes.get(key)
        if counts is None:
            unmatched += 1
            continue
        majority = kept_votes(counts, "majority")
        chosen = majority if mode == "majority" else kept_votes(counts, mode)
        if chosen is None or (split.name != "train" and majority is None):
            continue  # evaluation keeps the reference's majority-labelled faces only
        target = to_classes(chosen)
        if fer2013_vote:
            target[split.labels[i]] += fer2013_vote
        keep.append(i)
        labels.append(-1 if majority is None else int(to_classes(majority).argmax()))
        targets.append(target / target.sum())
        crowd.append(to_classes(counts[:EMOTION_VOTES]))
    if unmatched == len(split.ids):
        raise DatasetError(f"split '{split.name}': none of its images is in the FER+ votes file (another dataset copy?)")
    keep = np.asarray(keep, dtype=np.int64)
    dropped = {**split.dropped, "no FER+ label": len(split.ids) - len(keep) - unmatched, "not in FER+ votes": unmatched}
    return replace(split, images=split.images[keep], labels=np.asarray(labels, np.int64),
                   ids=[split.ids[i] for i in keep], dropped=dropped, classes=FERPLUS_CLASSES,
                   targets=np.stack(targets).astype(np.float32), votes=np.stack(crowd),
                   fer2013_labels=split.labels[keep])
