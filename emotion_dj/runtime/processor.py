"""The per-frame work, without threads: detect -> crop -> one batched engine call -> track and smooth.

The threaded Pipeline runs `detect` and `infer` in two threads; the sequential baselines, the benchmarks
and the end-to-end accuracy benchmark call `process`. There is one implementation of the frame path.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

from emotion_dj.runtime.detectors import Detector
from emotion_dj.runtime.engines import Engine, InferenceDropped
from emotion_dj.runtime.faces import FaceCropper
from emotion_dj.runtime.frames import FaceResult, Frame, Result
from emotion_dj.runtime.stats import StageTimes, Timer
from emotion_dj.runtime.tracking import FaceTracker, MoodTimeline

STAGES = ("decode", "detect", "infer", "track", "render")
log = logging.getLogger(__name__)


class FrameProcessor:
    def __init__(self, detector: Detector, engine: Engine, detect_every: int = 1, max_faces: int = 32,
                 times: StageTimes | None = None, mirror_alternate: bool = False):
        self.detector, self.engine = detector, engine
        self.detect_every = max(1, detect_every)
        # Test-time flip at no cost: every other frame's crops are mirrored, and the smoothing averages the two
        # views over time (benchmarks/alternate_flip.py measures it against one view and against both per frame).
        self.mirror_alternate = mirror_alternate
        self.cropper = FaceCropper(engine.info.input_size, max_faces, engine.info.crop)
        self.tracker = FaceTracker()
        self.times = times or StageTimes(STAGES)
        self.processed = 0
        self.nonfinite = 0  # faces whose model output held NaN or Inf: counted, left out of the frame's result
        self.dropped = 0  # frames the engine gave up on (InferenceDropped): counted, tracks left as they were
        self.submitted = 0  # frames handed to the engine (every other one mirrored)
        self._boxes = np.empty((0, 4), np.int32)
        self._landmarks: np.ndarray | None = None
        self._no_probs = np.empty((0, len(engine.info.classes)), np.float32)
        self._main_lock = threading.Lock()
        # The main face for other threads: its track id (None: no face) and mood, written in place each frame.
        self._main_id: int | None = None
        self._main_mood = np.zeros(len(engine.info.classes), np.float32)
        self.timeline = MoodTimeline(len(engine.info.classes))  # the main face's last 30 s, for the live strip

    def detect(self, frame: Frame) -> Frame:
        """Boxes for this frame: detected every `detect_every` frames, carried over in between."""
        frame.detected = frame.index % self.detect_every == 0 or len(self._boxes) == 0
        if frame.detected:
            with Timer(self.times, "detect"):
                found = self.detector.detect(frame.image)
            self._boxes, self._landmarks = found.boxes, found.landmarks
        count = self.cropper.max_faces
        frame.boxes = self._boxes[:count]
        frame.landmarks = None if self._landmarks is None else self._landmarks[:count]
        return frame

    def infer(self, frame: Frame) -> Result:
        """Crop all faces, run the engine once on the batch, then track and smooth."""
        return self.complete(self.submit(frame))

    def submit(self, frame: Frame) -> Frame:
        """Crop this frame's faces and start the engine on them; complete() collects the answer. The Pipeline runs
        the two in one thread, or (in_flight > 1, for a remote engine) in two, with frames in flight between."""
        frame.scoring_started = time.perf_counter()
        frame.scoring = None
        if len(frame.boxes):
            mirror = self.mirror_alternate and self.submitted % 2 == 1
            frame.scoring = self.engine.submit(self.cropper.crop(frame.image, frame.boxes, frame.landmarks, mirror))
        self.submitted += 1
        return frame

    def complete(self, frame: Frame) -> Result:
        """The engine's answer for a submitted frame, then track and smooth (frames complete in submission order)."""
        boxes = frame.boxes
        if frame.scoring is None:
            probs = self._no_probs
        else:
            try:
                probs = frame.scoring.result()
            except InferenceDropped:
                self.dropped += 1
                return Result(frame, [], frame.detected, dropped=True)
            finally:
                frame.scoring = None
            if not np.isfinite(probs).all():  # a broken model: never smooth, draw or log NaN
                boxes, probs = self._finite_only(boxes, probs)
        self.times.add("infer", time.perf_counter() - frame.scoring_started)
        with Timer(self.times, "track"), self._main_lock:  # the tracks are read by other threads (main_face, moods_into)
            tracks = self.tracker.update(boxes, probs, frame.timestamp)
            faces = [FaceResult(t.id, tuple(int(v) for v in t.box), t.probs.copy(), t.raw) for t in tracks]
            main = self.tracker.main_face()
            self._main_id = None if main is None else main.id
            if main is not None:
                self._main_mood[:] = main.mood
            self.timeline.update(frame.timestamp, None if main is None else main.mood)
        self.processed += 1
        return Result(frame, faces, frame.detected)

    def _finite_only(self, boxes: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        finite = np.isfinite(probs).all(axis=1)
        if self.nonfinite == 0:
            log.warning("the model returned NaN or Inf for a face: such faces are left out and counted")
        self.nonfinite += int((~finite).sum())
        log.info("frame with %d face(s) of non-finite model output (%d so far)", int((~finite).sum()), self.nonfinite)
        return boxes[finite], probs[finite]

    def process(self, frame: Frame) -> Result:
        """Everything the detect and infer threads do to one frame, in the calling thread."""
        return self.infer(self.detect(frame))

    def timeline_into(self, out: np.ndarray, seen: int) -> int:
        """Copy the mood timeline into `out` if it has a sample newer than `seen`; returns the sample count."""
        with self._main_lock:
            if self.timeline.count != seen:
                self.timeline.ordered_into(out)
            return self.timeline.count

    def moods_into(self, out: np.ndarray) -> int:
        """Sum the moods (seconds-long averages) of the faces in view into `out`; returns how many there are. Safe to
        call from any thread; a fleet camera reports it to its room twice a second, not per frame."""
        with self._main_lock:
            out[:] = 0
            visible = [track for track in self.tracker.tracks if track.misses == 0]
            for track in visible:
                out += track.mood
        return len(visible)

    def main_face(self) -> tuple[int, np.ndarray] | None:
        """(id, mood over the last seconds) of the largest face in view; safe to call from any thread."""
        with self._main_lock:
            return None if self._main_id is None else (self._main_id, self._main_mood.copy())
