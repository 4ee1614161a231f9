"""A fleet's figures: each camera over all its runs (a restart adds one), and the lines printed at the end.
Plain data, no Ray: the benchmark and the tests read the same dicts."""
from __future__ import annotations

from dataclasses import dataclass, field

from emotion_dj.core.redact import redact
from emotion_dj.fleet.config import CameraSettings


@dataclass
class CameraRun:
    settings: CameraSettings
    actor: object = None
    future: object = None
    restarts: int = 0
    runs: list[dict] = field(default_factory=list)  # one summary per actor run (a restart adds one)
    done: bool = False
    gave_up: str | None = None


def camera_summary(run: CameraRun) -> dict:
    """One camera's figures over all its runs (a restart starts a new actor with fresh counters)."""
    runs = run.runs
    calls = sum(r.get("model_calls", 0) for r in runs)

    def total(key):
        return sum(r.get(key) or 0 for r in runs)

    def weighted(key):  # a mean over calls, across the runs
        return round(sum((r.get(key) or 0) * r.get("model_calls", 0) for r in runs) / calls, 2) if calls else None

    seconds = total("seconds")
    latest = runs[-1] if runs else {}
    return {"room": run.settings.room, "source": redact(latest.get("source", run.settings.source)),
            "frames_processed": total("frames_processed"),
            "frames_per_run": [r.get("frames_processed") or 0 for r in runs],  # what each restart added
            "fps": round(total("frames_processed") / seconds, 2) if seconds else 0.0,
            "seconds": round(seconds, 2), "faces_scored": total("faces_scored"), "model_calls": calls,
            "started_at": min((r["started_at"] for r in runs if "started_at" in r), default=None),
            "ended_at": max((r["ended_at"] for r in runs if "ended_at" in r), default=None),
            "mean_frames_per_call": weighted("mean_frames_per_call"),
            "mean_batch_requests": weighted("mean_batch_requests"), "mean_batch_faces": weighted("mean_batch_faces"),
            "latency_p50_ms": weighted("latency_p50_ms"), "latency_p95_ms": max((r.get("latency_p95_ms") or 0 for r in runs), default=None),
            "retried_calls": total("retried_calls"), "dropped_inference": total("dropped_inference"),
            "abandoned_at_stop": total("abandoned_at_stop"),
            "nonfinite_outputs": total("nonfinite_outputs"), "events_lines": total("events_lines"),
            "restarts": run.restarts, "ended": redact(latest.get("stopped_by") or latest.get("error") or "unknown"),
            "errors": [redact(r["error"]) for r in runs if r.get("error")], "gave_up": run.gave_up}


def format_summary(summary: dict) -> str:
    lines = [f"Emotion DJ fleet: {len(summary['cameras'])} camera(s), {len(summary['rooms'])} room(s), "
             f"{summary['frames_processed']} frames, {summary['faces_scored']} faces in {summary['seconds']:.1f} s "
             f"({summary['ended']})",
             f"  model: {summary['model']['engine']} x{summary['model']['replicas']} replica(s), batches of up to "
             f"{summary['model']['max_batch']} requests, wait {summary['model']['batch_wait_ms']:g} ms"]
    for name, c in summary["cameras"].items():
        batch = (f"{c['mean_frames_per_call']} frames per call, model batches of {c['mean_batch_requests']} calls / "
                 f"{c['mean_batch_faces']} faces" if c["model_calls"] else "no model calls")
        latency = f"latency p50 {c['latency_p50_ms']} ms, p95 {c['latency_p95_ms']} ms" if c["model_calls"] else ""
        lines.append(f"  camera {name} ({c['room']}): {c['frames_processed']} frames, {c['fps']:.1f} FPS, "
                     f"{c['faces_scored']} faces, {batch}, {latency}; restarts {c['restarts']}, dropped "
                     f"{c['dropped_inference']} [{c['ended']}]")
    for name, room in summary["rooms"].items():
        mood = f"{room['emotion']} {room['confidence'] * 100:.0f}% -> '{room['title']}'" if room["emotion"] else "no faces"
        lines.append(f"  room {name}: {room['faces']} face(s) from {', '.join(room['cameras']) or 'no camera'}: {mood}")
    for name, dj in summary.get("djs", {}).items():
        lines.append(f"  room {name} DJ ({dj['target']}): {dj['status']}")
    return "\n".join(lines)
