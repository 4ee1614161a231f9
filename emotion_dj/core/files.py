"""Small files a setting names (a password file, a CA, a config file), read safely: as bytes, with a size limit, a
FIFO with a timeout that a stop signal cuts short, and a device refused. Every failure is one line naming the setting.

Why: `EMOTION_DJ_MQTT_PASSWORD_FILE=/dev/zero` would read until memory ran out, and a FIFO nobody writes to
(`<(pass show mqtt)` that failed) would hang the start before any signal handler could end it.
"""
from __future__ import annotations

import os
import select
import stat
import time
from collections.abc import Callable
from pathlib import Path

from emotion_dj.core.errors import UserError

FIFO_TIMEOUT_S = 10.0
_POLL_S = 0.1


def read_setting_file(path: str | Path, setting: str, limit: int, cancelled: Callable[[], bool] = lambda: False,
                      timeout: float | None = None) -> bytes:
    """The bytes of the file `setting` names, at most `limit` of them; UserError (one line) for anything else."""
    path = Path(path)
    try:
        kind = path.stat().st_mode
    except OSError as error:
        raise UserError(f"{setting}: cannot read {path}: {error.strerror}") from None
    if stat.S_ISFIFO(kind) and os.name == "posix":
        return _read_fifo(path, setting, limit, cancelled, FIFO_TIMEOUT_S if timeout is None else timeout)
    if not stat.S_ISREG(kind):
        raise UserError(f"{setting}: {path} is not a regular file (a device or a folder)")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as error:
        raise UserError(f"{setting}: cannot read {path}: {error.strerror}") from None
    if len(data) > limit:
        raise UserError(f"{setting}: {path} is larger than {limit // 1024} KiB: is it the right file?")
    return data


def _read_fifo(path: Path, setting: str, limit: int, cancelled: Callable[[], bool], timeout: float) -> bytes:
    """A pipe (`<(pass show mqtt)`): read until its writer closes it, within `timeout`, stopping on a signal."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a non-blocking open never waits for a writer
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            if cancelled():
                raise UserError(f"{setting}: stopped while waiting for {path}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise UserError(f"{setting}: nothing finished writing {path} within {timeout:g} s")
            ready, _, _ = select.select([fd], [], [], min(_POLL_S, left))
            if not ready:
                continue  # Linux reports no end of file until a writer has come and gone
            chunk = os.read(fd, 4096)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise UserError(f"{setting}: {path} gave more than {limit // 1024} KiB: is it the right file?")
    finally:
        os.close(fd)


def text_of(data: bytes, setting: str, path: str | Path) -> str:
    """UTF-8 text of a file's bytes, or one line saying it is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{setting}: {path} is not UTF-8 text (save it as UTF-8)") from None
