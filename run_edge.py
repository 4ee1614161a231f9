#!/usr/bin/env python3
"""Emotion DJ edge runtime. `python run_edge.py --help` lists the options; `--source demo` needs no camera."""
import sys

# Before anything slow is imported: Ctrl-C, SIGTERM and SIGHUP only set a flag from here on, so even a
# signal during start-up ends the app with its cleanup and one line, never a traceback.
from runtime.shutdown import STOP

STOP.install()

from runtime.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
