"""The `emotion-dj` command (and run_edge.py, and `python -m emotion_dj`): the edge app and its subcommands."""
from __future__ import annotations


def main() -> int:
    # Before anything slow is imported: Ctrl-C, SIGTERM and SIGHUP only set a flag from here on, so even a
    # signal during start-up ends the app with its cleanup and one line, never a traceback.
    from emotion_dj.runtime.shutdown import STOP

    STOP.install()
    from emotion_dj.runtime.cli import main as run_main

    return run_main()
