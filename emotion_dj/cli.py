"""The `emotion-dj` command (and run_edge.py, and `python -m emotion_dj`): the edge app and its subcommands.

Each subcommand is a module's `main(argv)`, imported only when asked for, so the camera app never loads the
fleet (Ray) or the music store's commands, and each part stays where it lives.
"""
from __future__ import annotations

import importlib
import sys

SUBCOMMANDS = {
    "playlist": "emotion_dj.music.cli",  # the P key without a camera
    "history": "emotion_dj.music.history_cli",  # what was played for which mood; --forget
    "report": "emotion_dj.runtime.report",  # the mood over time, from an events file
    "fleet": "emotion_dj.fleet.cli",  # many cameras on Ray
    "login": "emotion_dj.music.login_cli",  # the Spotify login, also with the browser on another machine (--paste)
    "health": "emotion_dj.runtime.web.health",  # the container's HEALTHCHECK: asks the running app's page
    "links": "emotion_dj.runtime.web.links",  # the page's and the video's links with their tokens, never logged
}


def main(argv: list[str] | None = None) -> int:
    # Before anything slow is imported: Ctrl-C, SIGTERM and SIGHUP only set a flag from here on, so even a
    # signal during start-up ends the app with its cleanup and one line, never a traceback.
    from emotion_dj.runtime.shutdown import STOP

    STOP.install()
    for stream in (sys.stdout, sys.stderr):  # a character the console cannot show (cp1252) is escaped, not a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        if argv[0] != "fleet":  # no frame loop checks the flag there: Ctrl-C must interrupt (one line, exit 130)
            STOP.uninstall()
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    from emotion_dj.runtime.cli import main as run_main

    return run_main(argv)
