"""A room's mood report: its final mood and its history (one sample a second) as JSON, and the history drawn
as stacked shares over time (PNG, beside the JSON)."""
from __future__ import annotations

import json
from pathlib import Path

from emotion_dj.runtime.palette import hex_color


def write_room_report(path: Path, room: str, mood: dict, history: list) -> Path:
    """history: (seconds since the fleet started, faces, {class: probability} or None) per sample."""
    path = Path(path)
    samples = [{"t": t, "faces": faces, "probs": probs} for t, faces, probs in history]
    path.write_text(json.dumps({"room": room, "final": mood, "samples": samples}, indent=1))
    seen = [s for s in samples if s["probs"]]
    if seen:
        draw(room, seen, path.with_suffix(".png"))
    return path


def draw(room: str, samples: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = list(samples[0]["probs"])
    times = [s["t"] for s in samples]
    shares = [[s["probs"][c] for s in samples] for c in classes]
    figure, axis = plt.subplots(figsize=(9, 3.2), dpi=100)
    axis.stackplot(times, shares, labels=classes, colors=[hex_color(c) for c in classes], alpha=0.9)
    axis.set(xlabel="seconds", ylabel="share of the room's mood", ylim=(0, 1), title=f"room {room}")
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)
