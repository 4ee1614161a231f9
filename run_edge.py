#!/usr/bin/env python3
"""Emotion DJ edge runtime, from a checkout (installed, the same command is `emotion-dj`).
`python run_edge.py --help` lists the options; `--source demo` needs no camera."""
import sys

from emotion_dj.cli import main

if __name__ == "__main__":
    sys.exit(main())
