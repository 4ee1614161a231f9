"""The model's self-description: ONNX metadata_props and weights/model_card.json, from one source."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import onnx

from emotion_dj.core.contract import INPUT_NAME, OUTPUT_NAME, CropSpec
from emotion_dj.train.model import DEFAULT_ARCHITECTURE

LABEL_DESCRIPTIONS = {
    "fer2013": "FER2013's own labels (one tagger per image)",
    "ferplus": "FER+ crowd votes (10 taggers per image; scored by the reference majority rule of microsoft/FERPlus)",
}


def summary(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Dataset and accuracy summary carried by every exported file."""
    metrics = checkpoint.get("metrics") or {}
    return {
        split: {key: metrics[split][key] for key in ("n", "accuracy", "macro_recall", "macro_f1", "ece")
                if key in metrics[split]}
        for split in ("val", "test") if split in metrics
    }


def metadata_props(checkpoint: dict[str, Any], precision: str, flip_average: bool = False) -> dict[str, str]:
    config = checkpoint["model_config"]
    return {
        "model": checkpoint.get("architecture", DEFAULT_ARCHITECTURE),
        "model_config": json.dumps(config),
        "classes": json.dumps(list(checkpoint["classes"])),
        "input_size": str(config["img_size"]),
        "input_name": INPUT_NAME,
        "input_format": "uint8 N x 1 x S x S grayscale face crops",
        "output_name": OUTPUT_NAME,
        "output_format": "float32 N x C softmax probabilities, temperature-calibrated",
        "normalization": json.dumps(checkpoint["normalization"]),
        "temperature": repr(float(checkpoint.get("temperature") or 1.0)),
        "precision": precision,
        "dataset": "FER2013 images (train: Training, val: PublicTest, test: PrivateTest)",
        "labels": LABEL_DESCRIPTIONS[checkpoint.get("labels", "fer2013")],
        "metrics": json.dumps(summary(checkpoint)),
        "crop": CropSpec.from_json(checkpoint.get("crop")).to_json(),
        **({"test_time_flip": "1"} if flip_average else {}),  # each face also runs mirrored; probabilities averaged
    }


def attach_metadata(model_path: Path, props: dict[str, str]) -> None:
    model = onnx.load(str(model_path))
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(model_path))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The training flags that shape the weights; written out in full so a command reproduces the run even if
# the CLI's defaults change later.
RECIPE_FLAGS = ("labels", "targets", "fer2013_vote", "class_weights", "img_size", "epochs", "batch_size", "optimizer", "schedule", "lr",
                "weight_decay", "label_smoothing", "mixup", "augment", "dropout", "widths", "ema", "plateau_patience", "plateau_factor",
                "seed")


def train_commands(checkpoint: dict[str, Any], out: str) -> list[str]:
    """The `python -m emotion_dj.train` commands that made this checkpoint, oldest first (one per --init stage)."""
    earlier = checkpoint.get("initialized_from")
    commands = train_commands(earlier, out + "-init") if earlier else []
    config = checkpoint.get("train_config", {})
    command = "python -m emotion_dj.train --data $FER2013_DIR"
    for key in RECIPE_FLAGS:
        if key in config:
            value = config[key]
            value = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            command += f" --{key.replace('_', '-')} {value}"
    for extra in checkpoint.get("dataset", {}).get("extra_train", []):  # e.g. detector crops of the train split
        about = extra.get("about", {})
        made = f"python -m emotion_dj.train.detector_crops --data $FER2013_DIR --out {extra['path']}"
        if about.get("crop"):
            made += f" --crop '{json.dumps(about['crop'], sort_keys=True)}' --seed {about.get('seed', 0)}"
        commands.append(made)
        command += f" --extra-train {extra['path']}"
    if earlier:
        command += f" --init {out}-init/best.pt"
    return [*commands, f"{command} --out {out}"]


def write_model_card(checkpoint: dict[str, Any], checkpoint_path: Path, files: dict[str, Path], out: Path,
                     precisions: dict[str, dict] | None = None, flip_average: bool = False) -> Path:
    """weights/model_card.json: everything a user needs to trust, use and reproduce the shipped model."""
    config = checkpoint["model_config"]
    train_config = checkpoint.get("train_config", {})
    card = {
        "name": "Emotion DJ expression classifier",
        "architecture": checkpoint.get("architecture", DEFAULT_ARCHITECTURE),
        "model_config": config,
        "classes": list(checkpoint["classes"]),
        "input": {"name": INPUT_NAME, "dtype": "uint8", "shape": ["N", 1, config["img_size"], config["img_size"]],
                  "meaning": "grayscale face crops, pixel values 0..255"},
        "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": ["N", len(checkpoint["classes"])],
                   "meaning": "softmax(logits / temperature)"},
        "normalization": {**checkpoint["normalization"], "applied": "inside the graph: (x / 255 - mean) / std"},
        "temperature": checkpoint.get("temperature"),
        # How the runtime frames a detected face for this model (core.contract.CropSpec); fitted on val.
        "crop": json.loads(CropSpec.from_json(checkpoint.get("crop")).to_json()),
        "dataset": {"name": "FER2013", "labels": LABEL_DESCRIPTIONS[checkpoint.get("labels", "fer2013")],
                    "splits": {"train": "Training", "val": "PublicTest", "test": "PrivateTest"},
                    **({"sizes": checkpoint["dataset"]} if "dataset" in checkpoint else {})},
        "metrics": checkpoint.get("metrics", {}) and {
            split: {k: v for k, v in checkpoint["metrics"][split].items() if k != "confusion_matrix"}
            for split in ("val", "test")
        },
        "training": {"config": train_config, **checkpoint.get("training", {}), "best_epoch": checkpoint.get("epoch"),
                     **({"initialized_from": checkpoint["initialized_from"]} if "initialized_from" in checkpoint else {})},
        # Each exported precision's accuracy through ONNX Runtime; --precision auto chooses with "val" only.
        # With test_time_flip, those files also run each face mirrored and average (the metrics above do not).
        "test_time_flip": flip_average,
        "precisions": precisions or {},
        "files": {name: {"path": path.name, "sha256": sha256(path), "bytes": path.stat().st_size}
                  for name, path in {"checkpoint": checkpoint_path, **files}.items()},
        "reproduce": [
            *train_commands(checkpoint, "runs/NAME"),
            "python -m emotion_dj.train.evaluate --weights runs/NAME/best.pt --data $FER2013_DIR --split test"
            + (" --labels ferplus --flip" if checkpoint.get("labels") == "ferplus" else ""),
            "python -m emotion_dj.export --weights runs/NAME/best.pt --formats onnx,onnx-fp16,onnx-int8 --out emotion_dj/weights"
            + (" --flip-average" if flip_average else ""),
        ],
    }
    path = out / "model_card.json"
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path


def set_crop(weights_dir: Path, spec: CropSpec) -> None:
    """Record a fitted crop with the model it was fitted for: in every exported ONNX's metadata (what the ONNX and
    TensorRT engines read) and in model_card.json (what the torch engine reads), refreshing the card's hashes."""
    from emotion_dj.core.contract import PRECISIONS, onnx_path

    card_path = weights_dir / "model_card.json"
    card = json.loads(card_path.read_text())
    for precision in PRECISIONS:
        path = onnx_path(weights_dir, precision)
        if not path.is_file():
            continue
        model = onnx.load(str(path))
        props = {p.key: p.value for p in model.metadata_props}
        attach_metadata(path, {**props, "crop": spec.to_json()})
        entry = card.get("files", {}).get(f"onnx-{precision}")
        if entry:
            entry.update(sha256=sha256(path), bytes=path.stat().st_size)
    card["crop"] = json.loads(spec.to_json())
    card_path.write_text(json.dumps(card, indent=2) + "\n")
