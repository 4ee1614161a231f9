"""Checkpoints: one plain dict of tensors and built-in types, so `torch.load(weights_only=True)` reads it.

Keys: model_config (CustomDeepEmotionNet's constructor arguments), classes, normalization (mean, std
of the [0, 1] pixels), temperature (None until calibrated), state_dict, epoch, best_val_accuracy,
train_config, metrics; a training checkpoint (last.pt) also holds the optimiser, the scheduler and
the history so that --resume continues exactly.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from emotion_dj.train.model import DEFAULT_ARCHITECTURE, DeployableEmotionNet, create_model

FORMAT = "emotion-dj-checkpoint/1"


class CheckpointError(Exception):
    """A missing, corrupt or foreign checkpoint; the message is one line meant for the user."""


def save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": FORMAT, **checkpoint}, tmp)
    tmp.replace(path)  # atomic: a run killed mid-save never leaves a half-written checkpoint


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many types for a damaged file; all mean the same to a user
        raise CheckpointError(f"cannot read checkpoint {path}: corrupt, truncated or not a PyTorch checkpoint") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an Emotion DJ checkpoint (expected format {FORMAT})")
    return checkpoint


def build_model(checkpoint: dict[str, Any]) -> torch.nn.Module:
    """The network the checkpoint names (architecture + model_config), with its weights loaded, in eval mode."""
    try:
        model = create_model(checkpoint.get("architecture", DEFAULT_ARCHITECTURE), **checkpoint["model_config"])
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"checkpoint describes a network this code cannot build: {error}") from None
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint weights do not fit its model config: {str(error).splitlines()[0]}") from None
    return model.eval()


def build_deployable(checkpoint: dict[str, Any], flip_average: bool = False) -> DeployableEmotionNet:
    """uint8 faces in, calibrated probabilities out: the model contract every engine implements."""
    temperature = checkpoint.get("temperature") or 1.0
    norm = checkpoint["normalization"]
    return DeployableEmotionNet(build_model(checkpoint), norm["mean"], norm["std"], temperature, flip_average).eval()
