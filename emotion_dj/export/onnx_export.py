"""Checkpoint -> ONNX (fp32 or fp16) with the model contract of DESIGN.md.

uint8 `faces` N x 1 x S x S in, float32 `probs` N x C out; normalisation, temperature and softmax
are inside the graph; the batch dimension is dynamic; the metadata describes the model.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from emotion_dj.core.contract import INPUT_NAME, OUTPUT_NAME
from emotion_dj.core.privacy import quiet_onnxruntime
from emotion_dj.export.metadata import attach_metadata, metadata_props
from emotion_dj.train.checkpoint import build_deployable

log = logging.getLogger(__name__)
OPSET = 18


class ExportError(Exception):
    """An export that cannot be done here; the message is one line meant for the user."""


def export_onnx(checkpoint: dict[str, Any], path: Path, precision: str = "fp32", flip_average: bool = False) -> Path:
    """Export with torch's torch.export-based exporter, then check the graph and run it once in ORT."""
    model = build_deployable(checkpoint, flip_average)
    if precision == "fp16":
        model = model.half()  # weights and compute in half; the uint8 input and fp32 output are unchanged
    elif precision != "fp32":
        raise ExportError(f"export_onnx makes fp32 or fp16, not {precision}")
    size = checkpoint["model_config"]["img_size"]
    example = torch.zeros(2, 1, size, size, dtype=torch.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The exporter warns (through warnings and logging) about torchvision ops this model does not use.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_shapes={INPUT_NAME: {0: torch.export.Dim("batch", min=1, max=4096)}},
            opset_version=OPSET, dynamo=True, external_data=False, verbose=False,
        )
    attach_metadata(path, metadata_props(checkpoint, precision, flip_average))
    onnx.checker.check_model(str(path), full_check=True)
    check_contract(path, size)
    log.info("wrote %s (%s, opset %d)", path, precision, OPSET)
    return path


def check_contract(path: Path, size: int) -> None:
    """The file must load in ORT, take uint8 faces of any batch and return rows that sum to 1."""
    session = quiet_onnxruntime().InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    if (inp.name, inp.type, out.name, out.type) != (INPUT_NAME, "tensor(uint8)", OUTPUT_NAME, "tensor(float)"):
        raise ExportError(f"{path}: unexpected I/O {inp.name}:{inp.type} -> {out.name}:{out.type}")
    for batch in (1, 3):
        faces = np.random.default_rng(batch).integers(0, 256, (batch, 1, size, size), dtype=np.uint8)
        probs = session.run([OUTPUT_NAME], {INPUT_NAME: faces})[0]
        if probs.shape[0] != batch or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
            raise ExportError(f"{path}: batch {batch} gave {probs.shape} with row sums {probs.sum(axis=1)}")
