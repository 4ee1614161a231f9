"""The run_edge.py processes tests start, so a failing test cannot leave one running (conftest stops them)."""
from __future__ import annotations

import subprocess

RUNNING: list[subprocess.Popen] = []


def start(*args, **kwargs) -> subprocess.Popen:
    process = subprocess.Popen(*args, **kwargs)
    RUNNING.append(process)
    return process


def stop_all() -> None:
    while RUNNING:
        process = RUNNING.pop()
        if process.poll() is None:
            process.kill()
            process.communicate()
