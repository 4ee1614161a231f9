"""The model contract: what an exported Emotion DJ model takes, returns and says about itself.

    faces  uint8   N x 1 x S x S   grayscale face crops, pixel values 0..255
    probs  float32 N x C           softmax(logits / temperature), classes in the model's own order

Normalisation, temperature and softmax live inside the graph, so every engine takes the same bytes.
Class names, input size S, temperature, the crop the model was calibrated for and the accuracy summary
travel in the ONNX `metadata_props` (written by export/, read here). These names are defined here once.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from emotion_dj.core.paths import WEIGHTS_DIR

INPUT_NAME = "faces"
OUTPUT_NAME = "probs"
PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_STEM = "emotion_net"
DEFAULT_WEIGHTS_DIR = WEIGHTS_DIR
# What the landmark crop rule reads, each in the eye frame (see CropSpec): the nose tip, the mouth corners, the
# detector's box centre and size, and a constant.
LANDMARK_FEATURES = ("nose_x", "nose_y", "mouth_right_x", "mouth_right_y", "mouth_left_x", "mouth_left_y",
                     "box_x", "box_y", "box_w", "box_h", "constant")


def onnx_path(weights_dir: Path, precision: str, stem: str = DEFAULT_STEM) -> Path:
    """emotion_net.onnx (fp32), emotion_net.fp16.onnx, emotion_net.int8.onnx."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}' (choose from {', '.join(PRECISIONS)})")
    suffix = "" if precision == "fp32" else f".{precision}"
    return weights_dir / f"{stem}{suffix}.onnx"


def checkpoint_path(weights_dir: Path, stem: str = DEFAULT_STEM) -> Path:
    return weights_dir / f"{stem}.pt"


# The crop's numbers and the ranges that make sense (in face sizes or eye distances).
CROP_RANGES = {"margin": (0.0, 2.0), "shift_x": (-1.0, 1.0), "shift_y": (-1.0, 1.0), "eye_scale": (0.0, 10.0),
               "eye_center_y": (-2.0, 2.0)}


@dataclass(frozen=True)
class CropSpec:
    """How a detected face becomes the model's input square, relative to the face's size.

    Box rule (any detector): a square of side max(w, h) * (1 + margin), its centre moved by
    (shift_x * side, shift_y * side) from the box centre (positive: right, down).
    Landmark rule (detectors with 5 landmarks: eyes, nose tip, mouth corners): rotate so the eye line is level;
    in that eye frame (origin the eyes' midpoint, x along the eye line, unit the eye distance) the square's
    centre (x, y) and log(side) are `landmark_weights` (LANDMARK_FEATURES x 3, row-major) applied to the nose,
    mouth corners and box in the same frame: a linear regression of where FER2013's own crops sit, fitted on
    val. Without weights, the compact form: side = eye_scale eye distances, centre eye_center_y * side below
    the eyes (the regression with its constant row only).
    The values are fitted on FER2013's val split (benchmarks/pipeline_accuracy.py --fit) for one model and
    travel in its metadata; the defaults are the first guess used before any fitting.
    """

    margin: float = 0.15
    shift_x: float = 0.0
    shift_y: float = 0.0
    eye_scale: float = 0.0  # 0 (and no weights): no landmark rule, use the box rule for every detector
    eye_center_y: float = 0.0
    landmark_weights: tuple[float, ...] = ()
    fitted_on: str = ""

    def __post_init__(self):
        # Checked here, where a model file's metadata enters: a wrong type or a value outside its range (a negative
        # margin crops nothing) is refused at load, not found as blank crops at run time.
        for name, (low, high) in CROP_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"crop {name} must be a number from {low:g} to {high:g}, got {value!r}")
        raw = self.landmark_weights
        if isinstance(raw, (str, bytes)) or not isinstance(raw, (list, tuple)) or not all(
                isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) for w in raw):
            raise ValueError(f"crop landmark_weights must be a list of numbers, got {str(raw)[:40]!r}")
        weights = tuple(float(w) for w in raw)  # JSON gives a list; keep the spec hashable
        if weights and len(weights) != 3 * len(LANDMARK_FEATURES):
            raise ValueError(f"landmark_weights holds {len(weights)} numbers, not {3 * len(LANDMARK_FEATURES)}")
        object.__setattr__(self, "landmark_weights", weights)

    @property
    def has_landmark_rule(self) -> bool:
        return bool(self.landmark_weights) or self.eye_scale > 0

    def landmark_matrix(self) -> list[list[float]]:
        """LANDMARK_FEATURES x 3 weights giving (centre x, centre y, log side) in the eye frame."""
        if self.landmark_weights:
            w = self.landmark_weights
            return [list(w[3 * i:3 * i + 3]) for i in range(len(LANDMARK_FEATURES))]
        rows = [[0.0, 0.0, 0.0] for _ in LANDMARK_FEATURES]
        rows[-1] = [0.0, self.eye_center_y * self.eye_scale, math.log(max(self.eye_scale, 1e-6))]
        return rows

    @classmethod
    def from_json(cls, text: str | None) -> CropSpec:
        if not text:
            return cls()
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError(f"crop must be a JSON object, got {text[:40]!r}")
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class ModelInfo:
    """The model contract as a model file describes it (nothing in runtime/ hard-codes it)."""

    classes: tuple[str, ...]
    input_size: int
    precision: str
    temperature: float
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    crop: CropSpec = field(default_factory=CropSpec)
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> ModelInfo:
        missing = {"classes", "input_size", "input_name", "output_name"} - set(metadata)
        if missing:
            raise ValueError(f"not an Emotion DJ model: metadata lacks {', '.join(sorted(missing))}")
        try:
            classes = tuple(json.loads(metadata["classes"]))
            input_size = int(metadata["input_size"])
            crop = CropSpec.from_json(metadata.get("crop"))
            temperature = float(metadata.get("temperature", "1.0"))
        except (ValueError, TypeError) as error:
            raise ValueError(f"not an Emotion DJ model: unreadable metadata ({error})") from None
        if len(classes) < 2 or not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
            raise ValueError(f"not an Emotion DJ model: 'classes' must name at least 2 distinct classes, got {list(classes)}")
        if not 8 <= input_size <= 1024:
            raise ValueError(f"not an Emotion DJ model: input_size {input_size} is out of range")
        return cls(classes=classes, input_size=input_size, precision=metadata.get("precision", "fp32"),
                   temperature=temperature, input_name=metadata["input_name"], output_name=metadata["output_name"],
                   crop=crop, metadata=dict(metadata))
