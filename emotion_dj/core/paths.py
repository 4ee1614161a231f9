"""Where Emotion DJ keeps files of its own: the project's shipped weights, the user's cache and data folders."""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from emotion_dj.core.errors import UserError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"  # package data: installed with the package, read from here in a checkout
PROJECT_ROOT = PACKAGE_DIR.parent  # the checkout (benchmarks and tests run from it; an installed package has none)


APP = "emotion-dj"
XDG = {"data": ("XDG_DATA_HOME", "~/.local/share"), "config": ("XDG_CONFIG_HOME", "~/.config"),
       "cache": ("XDG_CACHE_HOME", "~/.cache")}


def _xdg_platform(platform: str) -> bool:
    """Linux and the other Unixes keep the XDG folders; macOS and Windows get their own (platformdirs)."""
    return platform not in ("darwin", "win32", "cygwin")


def _root(kind: str, environ: Mapping[str, str], platform: str | None = None) -> Path:
    """The app's folder of one kind (data, config or cache), not created here.

    Linux: $XDG_..._HOME/emotion-dj, else ~/.local/share, ~/.config or ~/.cache, as always. macOS and Windows: the
    platform's own folders through platformdirs (~/Library/Application Support/emotion-dj, %LOCALAPPDATA%\\emotion-dj),
    except where an earlier release left its ~/.config or ~/.local/share folder: those stay in use, so an existing
    user's token and history are still found."""
    variable, default = XDG[kind]
    if _xdg_platform(platform or sys.platform):
        return Path(environ.get(variable) or default).expanduser() / APP
    legacy = Path(default).expanduser() / APP
    if legacy.is_dir():
        return legacy
    import platformdirs

    found = {"data": platformdirs.user_data_dir, "config": platformdirs.user_config_dir,
             "cache": platformdirs.user_cache_dir}[kind](APP, appauthor=False)
    return Path(found)


def cache_root(environ: Mapping[str, str] = os.environ) -> Path:
    """$EMOTION_DJ_CACHE, else the platform's cache folder (Linux: $XDG_CACHE_HOME/emotion-dj, ~/.cache/emotion-dj)."""
    return Path(environ["EMOTION_DJ_CACHE"]).expanduser() if environ.get("EMOTION_DJ_CACHE") else _root("cache", environ)


def data_root(environ: Mapping[str, str] = os.environ) -> Path:
    """$EMOTION_DJ_DATA, else the platform's data folder (Linux: $XDG_DATA_HOME/emotion-dj, ~/.local/share/emotion-dj):
    what the app remembers (the music store). Not created here."""
    return Path(environ["EMOTION_DJ_DATA"]).expanduser() if environ.get("EMOTION_DJ_DATA") else _root("data", environ)


def config_root(environ: Mapping[str, str] = os.environ) -> Path:
    """$EMOTION_DJ_CONFIG_DIR (the container's /config volume), else the platform's config folder (Linux:
    $XDG_CONFIG_HOME/emotion-dj, ~/.config/emotion-dj): the Spotify token, config.json and the page's token."""
    if environ.get("EMOTION_DJ_CONFIG_DIR"):
        return Path(environ["EMOTION_DJ_CONFIG_DIR"]).expanduser()
    return _root("config", environ)


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
