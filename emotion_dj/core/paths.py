"""Where Emotion DJ keeps files of its own: the project's shipped weights, the user's cache and data folders."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from emotion_dj.core.errors import UserError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"  # package data: installed with the package, read from here in a checkout
PROJECT_ROOT = PACKAGE_DIR.parent  # the checkout (benchmarks and tests run from it; an installed package has none)


def cache_root(environ: Mapping[str, str] = os.environ) -> Path:
    """$EMOTION_DJ_CACHE, else $XDG_CACHE_HOME/emotion-dj, else ~/.cache/emotion-dj (not created here)."""
    base = environ.get("EMOTION_DJ_CACHE") or os.path.join(environ.get("XDG_CACHE_HOME") or "~/.cache", "emotion-dj")
    return Path(base).expanduser()


def data_root(environ: Mapping[str, str] = os.environ) -> Path:
    """$EMOTION_DJ_DATA, else $XDG_DATA_HOME/emotion-dj, else ~/.local/share/emotion-dj: what the app remembers
    (the music store). Not created here."""
    base = environ.get("EMOTION_DJ_DATA") or os.path.join(environ.get("XDG_DATA_HOME") or "~/.local/share", "emotion-dj")
    return Path(base).expanduser()


def cache_dir(kind: str, create: bool = False) -> Path:
    """A sub-folder of the cache (e.g. 'trt'); `create` makes it (0700: the app's own), and a folder that cannot be
    made is a UserError."""
    path = cache_root() / kind
    if create:
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(f"cannot create the cache folder {path}: {error.strerror} "
                            "(set EMOTION_DJ_CACHE to a writable folder)") from None
    return path
