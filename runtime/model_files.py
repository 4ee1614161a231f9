"""Where the model files of each precision live, and what the ONNX model contract says about itself.

No torch here: the edge runtime reads everything it needs from the ONNX file's metadata_props.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_STEM = "emotion_net"


def onnx_path(weights_dir: Path, precision: str, stem: str = DEFAULT_STEM) -> Path:
    """emotion_net.onnx (fp32), emotion_net.fp16.onnx, emotion_net.int8.onnx."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}' (choose from {', '.join(PRECISIONS)})")
    suffix = "" if precision == "fp32" else f".{precision}"
    return weights_dir / f"{stem}{suffix}.onnx"


@dataclass(frozen=True)
class ModelInfo:
    """The model contract as the ONNX file describes it (DESIGN.md: nothing in runtime/ hard-codes it)."""

    classes: tuple[str, ...]
    input_size: int
    input_name: str
    output_name: str
    precision: str
    temperature: float
    metadata: dict[str, str]

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> "ModelInfo":
        missing = {"classes", "input_size", "input_name", "output_name"} - set(metadata)
        if missing:
            raise ValueError(f"not an Emotion DJ model: metadata lacks {', '.join(sorted(missing))}")
        return cls(
            classes=tuple(json.loads(metadata["classes"])),
            input_size=int(metadata["input_size"]),
            input_name=metadata["input_name"],
            output_name=metadata["output_name"],
            precision=metadata.get("precision", "fp32"),
            temperature=float(metadata.get("temperature", "1.0")),
            metadata=dict(metadata),
        )
