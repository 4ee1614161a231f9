#!/usr/bin/env python3
"""Emotion DJ edge runtime. `python run_edge.py --help` lists the options; `--source demo` needs no camera."""
import sys

from runtime.cli import main

if __name__ == "__main__":
    sys.exit(main())
