"""The live state the page shows (and GET /api/state returns), built on the app thread from what it already has."""
from __future__ import annotations

import time

import numpy as np

from emotion_dj.music.mood import snapshot
from emotion_dj.runtime.frames import Result, RunSummary
from emotion_dj.runtime.palette import hex_color


def probabilities(classes: tuple[str, ...], probs: np.ndarray) -> dict[str, float]:
    return {name: round(float(p), 4) for name, p in zip(classes, probs)}


def live_state(classes: tuple[str, ...], result: Result | None, main: tuple[int, np.ndarray] | None,
               strip: np.ndarray, summary: RunSummary, music: dict) -> dict:
    """faces (id, box, label, probabilities), the main face's mood and its 30 s strip, stats, the last playlist."""
    faces = [] if result is None else [
        {"id": face.id, "box": list(face.box), "label": classes[int(face.probs.argmax())],
         "score": round(float(face.probs.max()), 4), "probs": probabilities(classes, face.probs)}
        for face in result.faces]
    main_state = None
    if main is not None:
        face_id, mood = main
        snap = snapshot(classes, mood, face_id)
        main_state = {"id": face_id, "label": snap.mood.emotion, "score": round(snap.confidence, 4),
                      "mood": snap.mood.title, "probs": probabilities(classes, mood)}
    used = strip[strip.sum(axis=1) > 0]  # samples with a face in view, oldest first
    return {
        "classes": list(classes), "colors": {name: hex_color(name) for name in classes},
        "faces": faces, "main": main_state, "strip": np.round(used, 3).tolist(),
        "stats": {"fps": summary.fps, "engine": summary.engine, "detector": summary.detector,
                  "frames": summary.frames_processed, "dropped": summary.dropped_capture + summary.dropped_render,
                  "nonfinite": summary.nonfinite_outputs},
        "music": music,
        "updated": round(time.time(), 3),  # when the frame loop built this: `emotion-dj health` tells a stuck loop by it
    }
