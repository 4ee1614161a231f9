"""The page's token on a network bind: $EMOTION_DJ_SERVE_TOKEN, else one made once and kept in the config folder.

Never printed: a container's or a service's log is read by more people, and kept longer, than the page should be
open to. Kept in a file (0600, `serve-token`), a made token survives a restart, so a bookmark and Home Assistant's
camera link keep working; `emotion-dj health` reads it from the same place.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from emotion_dj.core.errors import UserError
from emotion_dj.core.files import read_setting_file, text_of
from emotion_dj.core.paths import config_root

TOKEN_FILE = "serve-token"
ENV = "EMOTION_DJ_SERVE_TOKEN"
MADE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{24,128}$")  # what secrets.token_urlsafe(18) makes, with room to paste a longer one


@dataclass(frozen=True)
class PageToken:
    value: str
    where: str  # how the user finds it: "$EMOTION_DJ_SERVE_TOKEN" or the file's path


def stream_token(token: str) -> str:
    """The video stream's own token (it opens /video.mjpg and nothing else): the same after a restart with the same
    page token."""
    digest = hmac.new(token.encode(), b"emotion-dj video.mjpg", hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_path(environ: Mapping[str, str] = os.environ) -> Path:
    return config_root(environ) / TOKEN_FILE


def page_token(given: str | None, environ: Mapping[str, str] = os.environ, create: bool = True) -> PageToken:
    """The token `given` ($EMOTION_DJ_SERVE_TOKEN), else the kept one, else (with `create`) a new one written 0600.

    A file in its place that is not a token (anything but one line of URL-safe characters) is refused and left as
    it is: it is not the app's to overwrite."""
    if given:
        return PageToken(given, f"${ENV}")
    path = token_path(environ)
    if os.path.lexists(path):
        text = text_of(read_setting_file(path, "the page's token", 4096), "the page's token", path).strip()
        if not MADE_TOKEN.match(text):
            raise UserError(f"{path} is not a page token (one line of letters, digits, - and _): move it away, "
                            f"or set {ENV}")
        return PageToken(text, str(path))
    if not create:
        raise UserError(f"no page token: set {ENV}, or start the app with --serve on a network address once "
                        f"(it keeps one in {path})")
    value = secrets.token_urlsafe(18)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as f:
            f.write(value + "\n")
    except OSError as error:
        raise UserError(f"cannot keep the page's token in {path}: {error.strerror} (set {ENV}, or make the "
                        "config folder writable)") from None
    return PageToken(value, str(path))
