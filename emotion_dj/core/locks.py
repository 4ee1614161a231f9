"""An OS lock that a process holds on a file until it lets go or dies (kill -9 included: the fleet's restart relies
on that), on every OS, through portalocker (`fcntl.flock` on POSIX, `msvcrt.locking` on Windows). Never a soft lock
file that a crash would leave behind as if still held.

On Windows the lock is mandatory: a locked events file could not be read by the live report or the fleet's counts.
So there the lock is taken on a sidecar beside it (`NAME.lock`, left in place: an unlocked sidecar means nothing);
on POSIX the file itself is locked, as before.
"""
from __future__ import annotations

import os
from pathlib import Path

import portalocker

SIDECAR = os.name == "nt"


def lock_path(path: Path) -> Path:
    """What is locked for `path`: the file itself, or its sidecar on Windows."""
    return path.with_name(path.name + ".lock") if SIDECAR else path


def try_lock(descriptor: int) -> bool:
    """Take the exclusive lock on an open descriptor without waiting; False when another process holds it."""
    try:
        portalocker.lock(descriptor, portalocker.LOCK_EX | portalocker.LOCK_NB)
        return True
    except portalocker.exceptions.LockException:
        return False


def hold(path: Path, descriptor: int) -> int | None:
    """Lock the file open as `descriptor` for a writer, until it closes: None when it is locked through that
    descriptor, the sidecar's descriptor on Windows (the caller closes it last), or BlockingIOError when another
    process holds it."""
    if not SIDECAR:
        if not try_lock(descriptor):
            raise BlockingIOError(path)
        return None
    sidecar = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    if not try_lock(sidecar):
        os.close(sidecar)
        raise BlockingIOError(path)
    return sidecar


def is_free(path: Path) -> bool:
    """Whether no process holds the lock of `path` now (True when there is nothing to lock)."""
    try:
        descriptor = os.open(lock_path(path), os.O_RDONLY if not SIDECAR else os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        return try_lock(descriptor)  # closing the descriptor below lets go of it at once
    finally:
        os.close(descriptor)
