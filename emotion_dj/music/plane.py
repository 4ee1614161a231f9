"""The mood plane: an expression's probabilities -> a point in valence (unpleasant..pleasant) and arousal
(calm..excited), Russell's circumplex, each axis -1..1.

Every class sits at one point; a face's point is the probability-weighted mean of the class points (all 8 classes,
not only the top one), and its intensity is its distance from neutral (0, 0). A room's point is the mean of its
faces' points, each face weighing the same. So a face that is half sad and half neutral sits halfway between sad
and neutral, and gets music from between the two.

The coordinates are Russell & Mehrabian (1977), "Evidence for a three-factor theory of emotions", J. Research in
Personality 11:273-294, on a -1..1 scale, as commonly transcribed (we had no copy of the paper to check them
against). Neutral is (0, 0) by convention. Contempt has no published point there: open-source FER code puts it at
valence -0.3..-0.6, arousal +0.1..+0.4, and we take the middle of that range.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CLASS_POINTS: dict[str, tuple[float, float]] = {  # class -> (valence, arousal)
    "happy": (0.81, 0.51),
    "surprise": (0.40, 0.67),
    "neutral": (0.00, 0.00),
    "sad": (-0.63, -0.27),
    "angry": (-0.51, 0.59),
    "fear": (-0.64, 0.60),
    "disgust": (-0.60, 0.35),
    "contempt": (-0.45, 0.25),  # no cited value: the middle of the range open-source FER code uses
}


@dataclass(frozen=True)
class MoodPoint:
    valence: float
    arousal: float

    @property
    def intensity(self) -> float:
        """Distance from neutral, 0 (a blank face) to about 1 (a pure happy face)."""
        return math.hypot(self.valence, self.arousal)

    def distance(self, other: MoodPoint) -> float:
        return math.hypot(self.valence - other.valence, self.arousal - other.arousal)

    def toward(self, target: MoodPoint, step: float) -> MoodPoint:
        """At most `step` of the way from here to `target`, in plane units (the iso principle's step)."""
        gap = self.distance(target)
        if gap <= step or gap == 0:
            return target
        f = step / gap
        return MoodPoint(self.valence + f * (target.valence - self.valence), self.arousal + f * (target.arousal - self.arousal))

    def rounded(self, digits: int = 2) -> dict[str, float]:
        return {"valence": round(self.valence, digits), "arousal": round(self.arousal, digits),
                "intensity": round(self.intensity, digits)}


NEUTRAL = MoodPoint(0.0, 0.0)


def class_point(name: str) -> MoodPoint:
    """The point of one class; `--mood sad` means this. A name the table lacks is a ValueError."""
    if name not in CLASS_POINTS:
        raise ValueError(f"no mood point for class '{name}' (known: {', '.join(CLASS_POINTS)})")
    return MoodPoint(*CLASS_POINTS[name])


def point_of(classes: tuple[str, ...], probs: np.ndarray) -> MoodPoint:
    """The probability-weighted point of one face (probabilities over the model's own `classes`)."""
    p = np.asarray(probs, np.float64)
    total = float(p.sum())
    if not math.isfinite(total) or total <= 0:
        return NEUTRAL
    v = a = 0.0
    for name, weight in zip(classes, p):
        cv, ca = CLASS_POINTS.get(name, (0.0, 0.0))
        v += weight * cv
        a += weight * ca
    return MoodPoint(v / total, a / total)


def mean_point(points: list[MoodPoint], weights: list[float] | None = None) -> MoodPoint | None:
    """The weighted mean of several points (a room's faces); None when there are none."""
    if not points:
        return None
    w = [1.0] * len(points) if weights is None else [float(x) for x in weights]
    total = sum(w)
    if total <= 0:
        return None
    return MoodPoint(sum(p.valence * x for p, x in zip(points, w)) / total, sum(p.arousal * x for p, x in zip(points, w)) / total)


def nearest_class(point: MoodPoint, classes: tuple[str, ...] | None = None) -> str:
    """The class whose point is nearest: what the HUD names a mixed mood by."""
    names = classes or tuple(CLASS_POINTS)
    return min((n for n in names if n in CLASS_POINTS), key=lambda n: point.distance(MoodPoint(*CLASS_POINTS[n])))
