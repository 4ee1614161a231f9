"""Numbers from the environment for the music's settings: a bad one is a MusicError naming it (one line)."""
from __future__ import annotations

from collections.abc import Mapping

from emotion_dj.music.spotify import MusicError


def env_number(environ: Mapping[str, str], name: str, default: float, low: float, high: float, kind=float):
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise MusicError(f"{name} must be a number from {low:g} to {high:g}, got '{text[:40]}'")
    return value
