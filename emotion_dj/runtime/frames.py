"""What flows between the stages and out of a run: Frame, FaceResult, Result and the RunSummary.

The pipeline, the frame processor, the renderer and the outputs all import these from here, so none of
them depends on another's module for a data type.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Frame:
    index: int
    timestamp: float  # seconds since the start (source time for files, wall time for live sources)
    image: np.ndarray
    boxes: np.ndarray | None = None  # set by the detect stage
    landmarks: np.ndarray | None = None  # N x 5 x 2 where the detector gives them
    detected: bool = False  # False where boxes were carried from an earlier detection
    scoring: object = None  # the engine's answer to come (FrameProcessor.submit -> complete)
    scoring_started: float = 0.0


@dataclass
class FaceResult:
    id: int
    box: tuple[int, int, int, int]
    probs: np.ndarray  # smoothed, for display
    raw: np.ndarray  # this frame's model output


@dataclass
class Result:
    frame: Frame
    faces: list[FaceResult]
    detected: bool
    dropped: bool = False  # the engine could not answer for this frame (a remote model service that failed)


@dataclass
class StageSummary:
    p50_ms: float
    p95_ms: float
    count: int


@dataclass
class RunSummary:
    """The exit summary of a run: printed, written by --summary-json, read by the benchmarks."""

    source: str
    engine: str
    detector: str
    frames_captured: int = 0
    frames_processed: int = 0
    frames_rendered: int = 0
    dropped_capture: int = 0  # live frames replaced by a newer one before inference took them
    dropped_render: int = 0  # results the main thread skipped to stay current (live only)
    seconds: float = 0.0
    fps: float = 0.0
    stages: dict[str, StageSummary] = field(default_factory=dict)
    ended: str = "stopped"  # "source ended" or "stopped"
    error: str | None = None
    stopped_by: str = ""
    threads_joined: bool = True
    recorded_frames: int | None = None
    events_lines: int | None = None
    music: str | None = None
    nonfinite_outputs: int = 0  # faces left out because the model's output held NaN or Inf
    dropped_inference: int = 0  # frames whose faces the engine could not score (a remote model that failed)

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        stages = "  ".join(f"{k} {v.p50_ms:.2f}/{v.p95_ms:.2f}" for k, v in self.stages.items() if v.count)
        return "\n".join([
            f"Emotion DJ: {self.frames_processed} frames from {self.source} in {self.seconds:.2f} s -> {self.fps:.1f} FPS "
            f"({self.stopped_by})",
            f"  engine {self.engine}, detector {self.detector}",
            f"  frames: captured {self.frames_captured}, processed {self.frames_processed}, rendered {self.frames_rendered}, "
            f"dropped {self.dropped_capture} at capture + {self.dropped_render} at render",
            f"  stage ms p50/p95: {stages}",
            *([f"  music: {self.music}"] if self.music else []),
            *([f"  dropped: {self.dropped_inference} frame(s) the model service could not score"]
              if self.dropped_inference else []),
            *([f"  warning: the model gave non-finite output (NaN/Inf) for {self.nonfinite_outputs} face(s); they were "
               "left out"] if self.nonfinite_outputs else []),
        ])
