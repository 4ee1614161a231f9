"""The output guard: every file a command will write is checked at start-up, before anything is read or written.

An output must not be any input (the video, the model, the events a report reads) nor another output of the same
run. Files that exist are compared by device and inode, so a hard link or a symlink to an input counts as that
input; files that do not exist yet by their resolved path. The file type (extension), the folder and the right
to write are checked here too, so a run never fails at its end for a reason it could have known at its start.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from emotion_dj.core.errors import UserError


class OutputError(UserError):
    """An output file that cannot or must not be written; one line for the user."""


@dataclass(frozen=True)
class Output:
    flag: str  # how the user named it, e.g. "--events"
    path: Path
    what: str  # e.g. "the recording"
    suffixes: tuple[str, ...] = ()  # allowed extensions (lower case, with the dot); empty: any


def _describe(error: OSError) -> str:
    if error.errno == errno.ENAMETOOLONG:
        return "the file name is too long"
    if error.errno == errno.ELOOP:
        return "a symbolic link loop"
    return error.strerror or str(error)


def identity(path: Path) -> tuple[str, object] | None:
    """What makes two names the same file: (device, inode) of an existing file (links followed), else the resolved
    path; None for a name that can not be a file at all (a camera index, a URL)."""
    path = Path(path).expanduser()  # "~/clip.mp4" is the user's file, as the app will open it
    try:
        info = os.stat(path)
        return ("inode", (info.st_dev, info.st_ino))
    except FileNotFoundError:
        pass
    except OSError as error:
        if error.errno in (errno.ENAMETOOLONG, errno.ELOOP):
            raise OutputError(f"cannot use {path}: {_describe(error)}") from None
        return None
    try:
        return ("path", path.resolve())
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop on Python < 3.13
        raise OutputError(f"cannot use {path}: {_describe(error) if isinstance(error, OSError) else 'a symbolic link loop'}") from None


def check_writable(path: Path, what: str) -> None:
    """Fail with the real reason if `path` cannot be written (by trying: permissions alone do not tell, e.g. for
    root or on a read-only file system). A file that did not exist is removed again."""
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {what} to {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise OutputError(f"cannot write {what} to {path}: it is a folder")
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as error:
        raise OutputError(f"cannot write {what} to {path}: {_describe(error)}") from None
    if not existed:
        path.unlink(missing_ok=True)


def guard_outputs(inputs: dict[str, Path | str | None], outputs: list[Output]) -> None:
    """Refuse, in one line, an output that would destroy an input or another output, has the wrong file type, or
    cannot be written. Inputs that are not files (a camera index, a URL) are ignored."""
    seen: dict[tuple[str, object], str] = {}
    for flag, path in inputs.items():
        if path is None or str(path) == "":
            continue
        try:
            key = identity(Path(path))
        except OutputError:
            continue  # an unusable input name is the input's own error, reported where it is opened
        if key is not None and key[0] == "inode":  # an input that does not exist yet cannot be overwritten
            seen[key] = flag
    for output in outputs:
        if output.suffixes and output.path.suffix.lower() not in output.suffixes:
            raise OutputError(f"{output.flag} must end in {', '.join(output.suffixes)}, got '{output.path.name}'")
        key = identity(output.path)
        same = seen.get(key)
        if same is not None:
            other = "an input" if same in inputs else "another output"
            raise OutputError(f"{output.flag} {output.path} is the same file as {same} ({other}): refusing to overwrite it")
        check_writable(Path(output.path).expanduser(), output.what)
        if key is not None:
            seen[key] = output.flag
