"""Training-curve and confusion-matrix PNGs (matplotlib, no display needed)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402


def plot_history(history: list[dict], path: Path) -> None:
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc, ax_lr) = plt.subplots(1, 3, figsize=(14, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in history], label="train")
    ax_loss.plot(epochs, [r["val_loss"] for r in history], label="val")
    ax_loss.set(title="loss (label-smoothed CE)", xlabel="epoch")
    ax_acc.plot(epochs, [r["train_accuracy"] * 100 for r in history], label="train (augmented)")
    ax_acc.plot(epochs, [r["val_accuracy"] * 100 for r in history], label="val (PublicTest)")
    ax_acc.set(title="top-1 accuracy %", xlabel="epoch")
    rates = [r["lr"] for r in history]
    ax_lr.plot(epochs, rates)
    # a log axis only has room for positive rates (a run at --lr 0 is a legitimate check of --init)
    ax_lr.set(title="learning rate", xlabel="epoch", yscale="log" if min(rates) > 0 else "linear")
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion_matrix(matrix: list[list[int]], class_names: tuple[str, ...], title: str, path: Path) -> None:
    counts = np.asarray(matrix, dtype=np.float64)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            ax.text(j, i, f"{rates[i, j] * 100:.0f}", ha="center", va="center",
                    color="white" if rates[i, j] > 0.5 else "black", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
