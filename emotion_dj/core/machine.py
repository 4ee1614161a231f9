"""The machine a number was measured on, as the OS names it (training logs and benchmark results share this)."""
from __future__ import annotations

import os
import platform
import re
from pathlib import Path


def cpu_model() -> str:
    """'AMD EPYC 9B14' or 'Intel(R) Xeon(R) Processor', as /proc/cpuinfo names it; the platform's guess elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_slug() -> str:
    """A file-name-safe id of this CPU and its core count, e.g. 'amd-epyc-9b14-2core'."""
    words = re.sub(r"\((r|tm)\)|\bprocessor\b|\bcpu\b|@.*$|\d+-core", " ", cpu_model().lower())
    slug = re.sub(r"[^a-z0-9]+", "-", words).strip("-") or "cpu"
    return f"{slug}-{os.cpu_count() or 1}core"
