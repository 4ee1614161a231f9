"""Train CustomDeepEmotionNet on FER2013's images, with FER2013's labels or the crowd's FER+ votes.

    python -m emotion_dj.train --data DIR --img-size 48 --epochs 45 --device auto --out runs/NAME [--resume]
    python -m emotion_dj.train --data DIR --init runs/NAME/best.pt --lr 2.5e-4 --ema 0.999 --out runs/NAME-ft  # fine-tune
    python -m emotion_dj.train --labels ferplus --init weights/emotion_net.pt --schedule onecycle --out ~/runs/fp  # 8 classes

With --labels ferplus the network learns the vote distributions (cross-entropy against soft targets, the reference
"probability" rule) and is selected on val by the mean of accuracy and macro recall, since the rare classes
(fear, disgust, contempt) matter as much to a DJ as the common ones. A 7-class --init gets an 8-class head: its
rows keep their classes and contempt starts from zero.

Writes into --out: history.csv/.json (one row per epoch), curves.png, best.pt (best val accuracy,
then temperature-calibrated on val), last.pt (for --resume), metrics.json and confusion-matrix PNGs.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from emotion_dj.core.cli import OneLineErrorParser, run_cli
from emotion_dj.core.machine import cpu_model
from emotion_dj.train.augment import AUGMENTATIONS, build_augmentation
from emotion_dj.train.checkpoint import (
    CheckpointError,
    build_model,
    load_checkpoint,
    save_checkpoint,
)
from emotion_dj.train.data import CLASSES, LABEL_SETS, DatasetError, load_fer2013
from emotion_dj.train.evaluate import normalize_batch, predict_logits
from emotion_dj.train.ferplus import TARGET_MODES
from emotion_dj.train.metrics import (
    balanced_score,
    choose_logit_adjustment,
    classification_report,
    expected_calibration_error,
    fit_temperature,
    macro_recall,
    softmax,
)
from emotion_dj.train.model import (
    DEFAULT_ARCHITECTURE,
    DEFAULT_WIDTHS,
    count_parameters,
    create_model,
)
from emotion_dj.train.plots import plot_confusion_matrix, plot_history

log = logging.getLogger("train")


class TrainingError(Exception):
    """A request the machine cannot serve (e.g. --device cuda without a GPU); one line for the user."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineErrorParser(prog="python -m emotion_dj.train", description="Train the emotion CNN on FER2013.")
    p.add_argument("--data", help="FER2013 folder or fer2013.csv (default: $FER2013_DIR)")
    p.add_argument("--labels", default="fer2013", choices=LABEL_SETS,
                   help="FER2013's own labels (7 classes) or the FER+ crowd votes (8 classes: + contempt)")
    p.add_argument("--ferplus", help="FER+ votes file (default: $FERPLUS_LABELS, else ferplus/ beside the data)")
    p.add_argument("--targets", default="probability", choices=TARGET_MODES,
                   help="FER+ training targets: the vote distribution or the majority label (reference rules)")
    p.add_argument("--class-weights", default="none", choices=("none", "sqrt"),
                   help="weight each class's loss by 1/sqrt(its share of the training targets), normalised to a mean "
                        "weight of 1 over the faces: the rare classes (contempt, disgust, fear) count for more")
    p.add_argument("--fer2013-vote", type=float, default=0.0, metavar="W",
                   help="FER+: count FER2013's own label as W more votes in the training targets (rare classes)")
    p.add_argument("--teacher", type=Path, metavar="CHECKPOINT",
                   help="distil from this FER+ model: its flip-averaged, temperature-calibrated probabilities on each "
                        "training face are blended into the targets (offline, computed once)")
    p.add_argument("--distill", type=float, default=0.5, metavar="W",
                   help="with --teacher: the teacher's share of each target (0..1; the votes keep 1 - W)")
    p.add_argument("--img-size", type=int, default=48, help="network input size S (48 native; 128 upsampled)")
    p.add_argument("--epochs", type=int, default=45)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--widths", type=lambda s: tuple(int(w) for w in s.split(",")), default=DEFAULT_WIDTHS,
                   help="channels of the 5 blocks, comma-separated")
    p.add_argument("--ema", type=float, default=0.0,
                   help="decay of an exponential moving average of the weights, e.g. 0.999 (0: off); when on, "
                        "the average is what is validated, selected and saved")
    p.add_argument("--optimizer", default="adamw", choices=("adamw", "sgd"),
                   help="AdamW, or SGD with Nesterov momentum 0.9 (the published FER2013 VGG recipe)")
    p.add_argument("--schedule", default="plateau", choices=("plateau", "cosine", "onecycle"),
                   help="ReduceLROnPlateau on the val score, cosine decay to 1e-6 over --epochs, or one-cycle "
                        "(warm-up to --lr over 10%% of the steps, then cosine down; stepped every batch)")
    p.add_argument("--mixup", type=float, default=0.0, help="mixup alpha (0: off), e.g. 0.2")
    p.add_argument("--augment", choices=AUGMENTATIONS, default="standard",
                   help="standard: rotation, affine, brightness/contrast jitter, erasing, flip; light: flip and small "
                        "jitter only, for the last epochs of a fine-tune")
    p.add_argument("--extra-train", type=Path, action="append", default=[], metavar="NPZ",
                   help="more training faces (images, labels), e.g. from python -m emotion_dj.train.detector_crops; repeatable")
    p.add_argument("--plateau-patience", type=int, default=3, help="ReduceLROnPlateau patience (epochs)")
    p.add_argument("--plateau-factor", type=float, default=0.5)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--amp", default="auto", choices=("auto", "off"),
                   help="mixed precision: bf16 on CUDA and on CPUs with native bf16 (AMX/AVX512-BF16)")
    p.add_argument("--dry-run", type=int, default=0, metavar="STEPS",
                   help="run STEPS optimiser steps, then print the schedule's step count and the projected time "
                        "of the whole run from their measured pace (nothing is saved)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    p.add_argument("--out", type=Path, default=Path("runs/fer48"))
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--init", type=Path, metavar="CHECKPOINT",
                   help="start from these weights (fine-tune) with a fresh optimiser, schedule and history")
    return p.parse_args(argv)


def load_extra_train(paths: list[Path], shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """The faces and labels of every --extra-train file, checked against the training set's image size, and what
    each file says of how it was made (its `about`, for the model card)."""
    images, labels, made = [np.zeros((0, *shape), np.uint8)], [np.zeros(0, np.int64)], []
    for path in paths:
        try:
            with np.load(path) as data:
                images.append(data["images"])
                labels.append(data["labels"].astype(np.int64))
                made.append({"path": str(path), "images": len(labels[-1]),
                             "about": json.loads(str(data["about"])) if "about" in data else {}})
        except (OSError, ValueError, KeyError) as error:
            raise TrainingError(f"--extra-train {path}: not an .npz with images and labels ({error})") from None
        if images[-1].shape[1:] != shape or images[-1].dtype != np.uint8 or len(images[-1]) != len(labels[-1]):
            raise TrainingError(f"--extra-train {path}: expected uint8 faces of {shape} with one label each, "
                                f"got {images[-1].dtype} {images[-1].shape[1:]} and {len(labels[-1])} labels")
        if labels[-1].size and not 0 <= labels[-1].min() <= labels[-1].max() < len(CLASSES):  # FER2013 labels
            raise TrainingError(f"--extra-train {path}: labels outside 0..{len(CLASSES) - 1}")
        log.info("extra training faces: %d from %s", len(labels[-1]), path)
    return np.concatenate(images), np.concatenate(labels), made


def pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda asked for, but torch sees no CUDA GPU (use --device cpu or auto)")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def pick_amp_dtype(device: torch.device, amp: str) -> torch.dtype | None:
    if amp == "off":
        return None
    if device.type == "cuda":  # bf16 keeps fp32's range: no loss scaling, so no per-step overflow check (host sync)
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    # bf16 autocast on a CPU without native bf16 is slower than fp32, so only use it where it is native.
    return torch.bfloat16 if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported() else None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def steps_per_epoch(count: int, batch_size: int) -> int:
    return count // batch_size  # the last partial batch is dropped (BatchNorm)


def train_one_epoch(model, images, targets, augment, loss_fn, optimizer, scaler, amp_dtype, batch_size, mean, std, progress,
                    ema: AveragedModel | None = None, mixup: float = 0.0, step_scheduler=None, max_steps: int = 0):
    """One pass over the training faces. `targets` are class indices (N) or distributions (N x C).

    Loss and accuracy are summed on the device and read once at the end: no host sync per step, so a GPU is never
    left waiting for Python. Returns (mean loss, accuracy, steps run).
    """
    model.train()
    order = torch.randperm(len(targets), device=images.device)
    total_loss = torch.zeros((), device=images.device)
    correct = torch.zeros((), device=images.device, dtype=torch.int64)
    steps = steps_per_epoch(len(order), batch_size)
    if max_steps:
        steps = min(steps, max_steps)
    for step in range(steps):
        index = order[step * batch_size:(step + 1) * batch_size]
        target = targets[index]
        x = normalize_batch(images[index], 0.0, 1.0, model.img_size)  # [0, 1] floats for kornia
        x = (augment(x) - mean) / std
        if mixup > 0:  # mixup: blend pairs of faces and their losses with a Beta(alpha, alpha) weight
            weight = float(np.random.beta(mixup, mixup))
            partner = torch.randperm(len(target), device=x.device)
            x = weight * x + (1 - weight) * x[partner]
        with torch.autocast(images.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = model(x.contiguous(memory_format=torch.channels_last))
        loss = loss_fn(logits.float(), target)
        if mixup > 0:
            loss = weight * loss + (1 - weight) * loss_fn(logits.float(), target[partner])
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if step_scheduler is not None:
            step_scheduler.step()
        if ema is not None:
            ema.update_parameters(model)
        total_loss += loss.detach() * len(target)
        hard_target = target.argmax(1) if target.dim() == 2 else target
        correct += (logits.argmax(1) == hard_target).sum()
        progress.update(len(target))
    seen = max(steps * batch_size, 1)
    return float(total_loss) / seen, int(correct) / seen, steps


def write_history(history: list[dict], out: Path) -> None:
    (out / "history.json").write_text(json.dumps(history, indent=2))
    with open(out / "history.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    plot_history(history, out / "curves.png")


def machine_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return f"{cpu_model()}, {torch.get_num_threads()} threads"


def remap_head(state_dict: dict, old_classes: list[str], new_classes: list[str]) -> dict:
    """A checkpoint's weights for a head over other classes: each class keeps its row; a new class starts at zero
    weight and the mean bias, so it begins as no more likely than an average class and is learnt from there."""
    weight, bias = state_dict["head.2.weight"], state_dict["head.2.bias"]
    new_weight = torch.zeros(len(new_classes), weight.shape[1], dtype=weight.dtype)
    new_bias = torch.full((len(new_classes),), float(bias.mean()), dtype=bias.dtype)
    for row, name in enumerate(new_classes):
        if name in old_classes:
            new_weight[row], new_bias[row] = weight[old_classes.index(name)], bias[old_classes.index(name)]
    return {**state_dict, "head.2.weight": new_weight, "head.2.bias": new_bias}


def adjust_for_rare_classes(model, splits: dict, device: torch.device) -> dict:
    """FER+: fold a post-hoc logit adjustment (tau chosen on val) into the head's bias; returns what was tried."""
    prior = splits["train"].targets.mean(axis=0)
    log_prior = np.log(np.maximum(prior, 1e-6))
    norm_mean, norm_std = model.normalization
    val_logits = predict_logits(model, splits["val"].images, norm_mean, norm_std, device)
    tau, tried = choose_logit_adjustment(val_logits, splits["val"].labels, log_prior)
    with torch.no_grad():
        model.head[2].bias -= torch.as_tensor(tau * log_prior, dtype=model.head[2].bias.dtype, device=device)
    # float64 before rounding: a float32 prior rounded to 5 places still printed as 0.0868299975991249 in the card
    return {"tau": tau, "train_prior": prior.astype(np.float64).round(5).tolist(), "chosen_on": "val",
            "rule": "the highest val macro recall costing at most 0.5 points of val accuracy",
            "tried": {str(k): v for k, v in tried.items()}}


def finalize(out: Path, splits: dict, device: torch.device, amp_dtype, history: list[dict]) -> dict:
    """Adjust for rare classes (FER+), calibrate the best checkpoint's temperature on val, then report val and test.

    In full fp32 (no autocast), so the stored numbers are the ones every fp32 engine reproduces.
    """
    best = load_checkpoint(out / "best.pt")
    model = build_model(best).to(device)
    norm = best["normalization"]
    model.normalization = (norm["mean"], norm["std"])
    classes = tuple(best["classes"])
    metrics = {"labels": best.get("labels", "fer2013")}
    if splits["train"].targets is not None:
        metrics["logit_adjustment"] = adjust_for_rare_classes(model, splits, device)
        best["state_dict"] = {k: v.cpu() for k, v in model.state_dict().items()}
    logits = {name: predict_logits(model, splits[name].images, norm["mean"], norm["std"], device)
              for name in ("val", "test")}
    temperature = fit_temperature(logits["val"], splits["val"].labels)
    metrics["temperature"] = temperature
    for name in ("val", "test"):
        report = classification_report(softmax(logits[name], temperature), splits[name].labels, classes)
        report["ece_before_temperature"] = expected_calibration_error(softmax(logits[name]), splits[name].labels)
        metrics[name] = report
        plot_confusion_matrix(report["confusion_matrix"], classes, f"{name}: accuracy {report['accuracy'] * 100:.2f}%",
                              out / f"confusion_{name}.png")
    best["temperature"] = temperature
    best["metrics"] = metrics
    best["training"] = {"machine": machine_description(device), "torch": str(torch.__version__),
                        "amp": str(amp_dtype), "epochs_run": len(history),
                        "minutes": round(sum(row["seconds"] for row in history) / 60, 1)}
    save_checkpoint(out / "best.pt", best)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def build_optimizer(args: argparse.Namespace, model: nn.Module, steps_each_epoch: int):
    """The optimiser, and the scheduler stepped each epoch (epoch_scheduler) or each batch (step_scheduler)."""
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                                    weight_decay=args.weight_decay)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    if args.schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, pct_start=0.1,
                                                        total_steps=args.epochs * steps_each_epoch)
    elif args.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=1e-6)
    else:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=args.plateau_factor,
                                                               patience=args.plateau_patience, min_lr=1e-6)
    return optimizer, scheduler


def training_targets(split, device: torch.device) -> torch.Tensor:
    """Class indices (FER2013) or vote distributions (FER+), resident on the training device."""
    return torch.from_numpy(split.targets if split.targets is not None else split.labels).to(device)


def teacher_probabilities(path: Path, images: np.ndarray, classes: list[str], device: torch.device,
                          cache: Path | None = None) -> np.ndarray:
    """A trained model's view of each training face, for distillation: the mean of its calibrated probabilities on
    the face and its mirror image (the flip-averaged model scores higher than one pass, so the student learns from
    the better of the two). `cache` keeps them for --resume and reruns (two passes over 28k faces take minutes
    on two cores), named by the teacher file's size and time."""
    stat = Path(path).stat()
    cached = cache / f"teacher-{stat.st_size}-{int(stat.st_mtime)}-{len(images)}.npy" if cache else None
    if cached is not None and cached.exists():
        return np.load(cached)
    teacher = load_checkpoint(path)
    if list(teacher.get("classes", CLASSES)) != classes:
        raise TrainingError(f"--teacher {path} predicts {teacher.get('classes', CLASSES)}, this run {classes}")
    model = build_model(teacher).to(device)
    norm, temperature = teacher["normalization"], teacher.get("temperature") or 1.0
    views = (images, np.ascontiguousarray(images[..., ::-1]))
    probs = [softmax(predict_logits(model, view, norm["mean"], norm["std"], device), temperature) for view in views]
    mean = ((probs[0] + probs[1]) / 2).astype(np.float32)
    if cached is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cached, mean)
    return mean


def distilled_targets(targets: torch.Tensor, teacher: np.ndarray, weight: float) -> torch.Tensor:
    """(1 - weight) x the labels (indices become one-hot) + weight x the teacher's probabilities."""
    if not 0.0 <= weight <= 1.0:
        raise TrainingError(f"--distill {weight}: the teacher's share must lie in 0..1")
    labels = targets.float() if targets.dim() == 2 else nn.functional.one_hot(targets, teacher.shape[1]).float()
    return (1 - weight) * labels + weight * torch.from_numpy(teacher).to(labels.device)


def numpy_rng_state() -> dict:
    """numpy's global generator as tensors and numbers: a checkpoint is loaded with weights_only, which refuses arrays."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def set_numpy_rng_state(state: dict) -> None:
    np.random.set_state((state["kind"], state["keys"].numpy().astype(np.uint32), state["position"], state["has_gauss"],
                         state["cached_gaussian"]))


def val_score(logits: np.ndarray, labels: np.ndarray, ferplus: bool) -> float:
    """What picks the best epoch: accuracy (FER2013, as before) or the mean of accuracy and macro recall (FER+)."""
    predictions = logits.argmax(1)
    return balanced_score(predictions, labels, logits.shape[1]) if ferplus else float((predictions == labels).mean())


def dry_run(args, model, images, targets, augment, loss_fn, optimizer, scaler, amp_dtype, mean, std, ema, step_scheduler) -> int:
    """Time --dry-run steps (after 2 warm-up steps) and project the whole schedule: the step count is exact, the time
    an estimate from this machine's pace (validation passes not included)."""
    steps_each_epoch = steps_per_epoch(len(targets), args.batch_size)
    with tqdm(disable=True) as bar:
        train_one_epoch(model, images, targets, augment, loss_fn, optimizer, scaler, amp_dtype, args.batch_size, mean,
                        std, bar, ema, args.mixup, step_scheduler, max_steps=2)
        if images.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        _, _, steps = train_one_epoch(model, images, targets, augment, loss_fn, optimizer, scaler, amp_dtype,
                                      args.batch_size, mean, std, bar, ema, args.mixup, step_scheduler,
                                      max_steps=args.dry_run)
        if images.device.type == "cuda":
            torch.cuda.synchronize()
    per_step = (time.perf_counter() - started) / steps
    total_steps = args.epochs * steps_each_epoch
    print(f"dry run: {len(targets)} training faces, batch {args.batch_size}: {steps_each_epoch} steps per epoch, "
          f"{total_steps} steps in {args.epochs} epochs")
    print(f"measured {per_step * 1000:.1f} ms per step over {steps} steps on {machine_description(images.device)}: "
          f"projected {per_step * total_steps / 60:.1f} min of training steps")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    device = pick_device(args.device)
    amp_dtype = pick_amp_dtype(device, args.amp)
    ferplus = args.labels == "ferplus"
    if ferplus and args.extra_train:
        raise TrainingError("--extra-train files carry FER2013 labels only; they cannot join a --labels ferplus run")
    splits = load_fer2013(args.data, drop_blank_in=("train",), labels=args.labels, ferplus=args.ferplus,
                          target_mode=args.targets, fer2013_vote=args.fer2013_vote)
    for split in splits.values():
        log.info("%s: %d images (dropped: %s)", split.name, len(split), split.dropped)
    classes = list(splits["train"].classes)
    train_images = splits["train"].images
    mean, std = float(train_images.mean() / 255.0), float(train_images.std() / 255.0)

    model_config = {"img_size": args.img_size, "num_classes": len(classes), "widths": tuple(args.widths),
                    "dropout": args.dropout}
    # channels_last lets oneDNN (CPU) and cuDNN (GPU) pick their fastest convolution kernels.
    model = create_model(DEFAULT_ARCHITECTURE, **model_config).to(device, memory_format=torch.channels_last)
    log.info("model: %s params, input %dx%d, %d classes (%s labels), device %s, amp %s", f"{count_parameters(model):,}",
             args.img_size, args.img_size, len(classes), args.labels, device, amp_dtype)

    # Extra faces join the training set only; the normalization above stays FER2013's own.
    extra_images, extra_labels, extra_files = load_extra_train(args.extra_train, train_images.shape[1:])
    # The whole training set lives on the training device (uint8: 28k faces are 66 MB), so no loader stalls a GPU.
    images = torch.from_numpy(np.concatenate([train_images, extra_images])).unsqueeze(1).to(device)
    if ferplus:
        targets = training_targets(splits["train"], device)
    else:
        targets = torch.from_numpy(np.concatenate([splits["train"].labels, extra_labels])).to(device)
    if args.teacher:
        if args.extra_train:
            raise TrainingError("--teacher distils over the FER2013 training faces; it cannot be combined with --extra-train")
        teacher = teacher_probabilities(args.teacher, train_images, classes, device, cache=None if args.dry_run else args.out)
        targets = distilled_targets(targets, teacher, args.distill)
        log.info("distilling from %s (flip-averaged), teacher share %.2f", args.teacher, args.distill)
    steps_each_epoch = steps_per_epoch(len(targets), args.batch_size)
    optimizer, scheduler = build_optimizer(args, model, steps_each_epoch)
    step_scheduler = scheduler if args.schedule == "onecycle" else None
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    class_weight = None
    if args.class_weights == "sqrt":
        share = (targets.float() if targets.dim() == 2 else nn.functional.one_hot(targets, len(classes)).float()).mean(0)
        class_weight = share.clamp_min(1e-4).rsqrt()
        class_weight = class_weight / (share * class_weight).sum()  # the average face keeps weight 1
        log.info("class weights: %s", ", ".join(f"{c} {w:.2f}" for c, w in zip(classes, class_weight.tolist())))
    # class indices or distributions alike
    loss_fn = nn.CrossEntropyLoss(weight=class_weight, label_smoothing=args.label_smoothing)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(args.ema), use_buffers=True) if args.ema else None
    evaluated = ema.module if ema is not None else model  # the weights that are validated and saved
    augment = build_augmentation(args.augment).to(device)

    history, start_epoch, best_score = [], 1, -1.0
    lineage = {}
    if args.init:
        init = load_checkpoint(args.init)
        init_classes = list(init.get("classes", CLASSES))
        init_config = {**init["model_config"], "num_classes": len(classes)}
        if init_config != model_config:
            raise CheckpointError(f"--init {args.init} has model config {init['model_config']}, this run {model_config}")
        # How the starting weights were made, so the model card can list every command that reproduces them.
        lineage = {"initialized_from": {key: init[key] for key in ("train_config", "training", "epoch", "dataset", "initialized_from")
                                        if key in init}}
        if not args.resume:  # on --resume, last.pt already holds the fine-tuned weights
            state = init["state_dict"] if init_classes == classes else remap_head(init["state_dict"], init_classes, classes)
            model.load_state_dict(state)
            if ema is not None:  # the average starts from the starting weights, not from the fresh network
                ema.module.load_state_dict(state)
            log.info("initialised from %s (epoch %d of its run%s)", args.init, init["epoch"],
                     "" if init_classes == classes else f"; head remapped {len(init_classes)} -> {len(classes)} classes")
    if args.dry_run:
        return dry_run(args, model, images, targets, augment, loss_fn, optimizer, scaler, amp_dtype, mean, std, ema,
                       step_scheduler)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.resume:
        state = load_checkpoint(args.out / "last.pt")
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng_state"])
        if "numpy_rng_state" in state:  # mixup draws its weights from numpy: without it a resumed run drifts
            set_numpy_rng_state(state["numpy_rng_state"])
        if ema is not None and "ema_state" in state:
            ema.load_state_dict(state["ema_state"])
        history, start_epoch, best_score = state["history"], state["epoch"] + 1, state["best_val_score"]
        log.info("resumed from %s at epoch %d (best val score %.2f%%)", args.out / "last.pt", start_epoch, best_score * 100)

    val = splits["val"]

    def plain(value):  # JSON-friendly: paths as text
        return [plain(v) for v in value] if isinstance(value, list) else str(value) if isinstance(value, Path) else value

    train_config = {k: plain(v) for k, v in vars(args).items()}
    base = {"architecture": DEFAULT_ARCHITECTURE, "model_config": model_config, "classes": classes,
            "labels": args.labels, "normalization": {"mean": mean, "std": std},
            "temperature": None, "train_config": train_config,
            "dataset": {**{name: {"images": len(s), "dropped": s.dropped} for name, s in splits.items()},
                        **({"extra_train": extra_files} if extra_files else {})}, **lineage}

    for epoch in range(start_epoch, args.epochs + 1):
        started = time.perf_counter()
        with tqdm(total=steps_each_epoch * args.batch_size, desc=f"epoch {epoch}/{args.epochs}", unit="img",
                  leave=False, disable=None) as bar:
            train_loss, train_accuracy, _ = train_one_epoch(model, images, targets, augment, loss_fn, optimizer, scaler,
                                                            amp_dtype, args.batch_size, mean, std, bar, ema, args.mixup,
                                                            step_scheduler)
        val_logits = predict_logits(evaluated, val.images, mean, std, device, amp_dtype=amp_dtype)
        val_loss = float(nn.functional.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(val.labels)))
        val_accuracy = float((val_logits.argmax(1) == val.labels).mean())
        val_macro_recall = macro_recall(val_logits.argmax(1), val.labels, len(classes))
        score = val_score(val_logits, val.labels, ferplus)
        if args.schedule == "plateau":
            scheduler.step(score)
        elif args.schedule == "cosine":
            scheduler.step()
        row = {"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy, "val_loss": val_loss,
               "val_accuracy": val_accuracy, "val_macro_recall": val_macro_recall, "val_score": score,
               "lr": optimizer.param_groups[0]["lr"], "seconds": round(time.perf_counter() - started, 1)}
        history.append(row)
        write_history(history, args.out)
        if score > best_score:
            best_score = score
            save_checkpoint(args.out / "best.pt", {**base, "state_dict": evaluated.state_dict(), "epoch": epoch,
                                                   "best_val_score": best_score, "best_val_accuracy": val_accuracy})
        extra = {"ema_state": ema.state_dict()} if ema is not None else {}
        save_checkpoint(args.out / "last.pt", {**base, **extra, "state_dict": model.state_dict(), "epoch": epoch,
                                               "best_val_score": best_score, "optimizer": optimizer.state_dict(),
                                               "scheduler": scheduler.state_dict(), "rng_state": torch.get_rng_state(),
                                               "numpy_rng_state": numpy_rng_state(), "history": history})
        log.info("epoch %d/%d  train loss %.4f acc %.2f%%  val loss %.4f acc %.2f%% macro recall %.2f%%  (best score %.2f%%)"
                 "  lr %.2e  %.0fs", epoch, args.epochs, train_loss, train_accuracy * 100, val_loss, val_accuracy * 100,
                 val_macro_recall * 100, best_score * 100, row["lr"], row["seconds"])

    metrics = finalize(args.out, splits, device, amp_dtype, history)
    log.info("temperature %.3f (fitted on val); val accuracy %.2f%% macro recall %.2f%%; test (PrivateTest) accuracy "
             "%.2f%%, macro recall %.2f%%", metrics["temperature"], metrics["val"]["accuracy"] * 100,
             metrics["val"]["macro_recall"] * 100, metrics["test"]["accuracy"] * 100, metrics["test"]["macro_recall"] * 100)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    return run_cli(lambda: run(args), user_errors=(DatasetError, CheckpointError, TrainingError),
                   on_interrupt="interrupted; continue with --resume")


if __name__ == "__main__":
    sys.exit(main())
