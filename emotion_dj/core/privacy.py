"""Nothing leaves the box: third-party telemetry is off before any library that sends it is imported.

ONNX Runtime's official builds carry Microsoft's 1DS telemetry: on import they write a persistent device id and
an event queue (process path, OS, CPU, memory, container or VM) under ~/.cache/Microsoft/DeveloperTools and
upload it to mobile.events.data.microsoft.com. `ORT_DISABLE_TELEMETRY=1` before ONNX Runtime initialises stops
the uploader, the events and the device id (onnxruntime's Privacy.md); the API call `disable_telemetry_events()`
cannot undo the initialisation event, so the variable is what counts and the call is a second layer.

Ray's usage stats are on by default and probe cloud metadata addresses (169.254.169.254,
metadata.google.internal); `RAY_USAGE_STATS_ENABLED=0` turns them off. Every process Ray starts inherits the
driver's environment, and a remote cluster gets the same variables through the job's runtime_env.

matplotlib keeps a font cache in ~/.config/matplotlib unless MPLCONFIGDIR says otherwise: it goes into the
project's own cache folder, so a run leaves only the folders docs/PRIVACY.md lists.

`EMOTION_DJ_TELEMETRY=on` leaves every library's own default alone (a user who wants to send ONNX Runtime or
Ray their usage data may). Variables the user set themselves are never overridden.
"""
from __future__ import annotations

import os
from collections.abc import MutableMapping

from emotion_dj.core.paths import cache_root

OPT_IN = "EMOTION_DJ_TELEMETRY"
TELEMETRY_OFF = {
    "ORT_DISABLE_TELEMETRY": "1",  # ONNX Runtime 1DS: no uploader, no events, no device id
    "RAY_USAGE_STATS_ENABLED": "0",  # Ray: no usage report, no cloud-metadata probes
    "RAY_USAGE_STATS_PROMPT_ENABLED": "0",  # nor the prompt about it
}


def telemetry_allowed(environ: MutableMapping[str, str] = os.environ) -> bool:
    return environ.get(OPT_IN, "").strip().lower() in ("1", "on", "yes", "true")


def local_only_env(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """The variables keep_local sets (for a Ray runtime_env): none when the user opted in to telemetry."""
    if telemetry_allowed(environ):
        return {}
    return {**TELEMETRY_OFF, "MPLCONFIGDIR": environ.get("MPLCONFIGDIR") or str(cache_root(environ) / "matplotlib")}


def keep_local(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set the variables above in this process (inherited by its children) unless the user set them."""
    for key, value in local_only_env(environ).items():
        environ.setdefault(key, value)


def quiet_onnxruntime():
    """`import onnxruntime`, with its telemetry events off: the one way the project imports it."""
    keep_local()
    import onnxruntime as ort

    if not telemetry_allowed():
        ort.disable_telemetry_events()
    return ort
