"""The threaded pipeline: capture -> detect -> infer -> results for the main thread, one thread per stage.

    capture:   source.read() (decode), timestamp; a live source keeps only the newest frame (drops counted),
               a file source blocks on a bounded queue so every frame is processed
    detect:    face boxes (every Nth frame; boxes carried in between)
    infer:     crop -> one batched engine call for all faces -> track ids and smooth probabilities
    main:      takes Results (render, record, events, keys) - see runtime/app.py

Detection and inference run in separate threads because OpenCV and ONNX Runtime release the GIL: on a
2-core machine the detector works on frame n+1 while the model runs on frame n. Stages time themselves
into one StageTimes; `stop()` ends all threads within a second.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from runtime.detectors import Detector
from runtime.engines import Engine
from runtime.faces import FaceCropper
from runtime.sources import Source
from runtime.stats import StageTimes, Timer
from runtime.tracking import FaceTracker, Track

log = logging.getLogger(__name__)
STAGES = ("decode", "detect", "infer", "track", "render")
POLL = 0.05  # seconds a blocked thread waits before checking the stop flag again


@dataclass
class Frame:
    index: int
    timestamp: float  # seconds since the start (source time for files, wall time for live sources)
    image: np.ndarray
    boxes: np.ndarray | None = None  # set by the detect stage
    detected: bool = False


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
    detected: bool  # False where boxes were carried from an earlier detection


@dataclass
class Counters:
    captured: int = 0
    dropped_capture: int = 0  # live frames replaced by a newer one before inference took them
    processed: int = 0
    dropped_render: int = 0  # results the main thread skipped to stay current (live only)
    error: str | None = None
    ended: bool = False  # the source ran out (or failed) rather than being stopped
    started: float = field(default_factory=time.perf_counter)


def put_newest(q: queue.Queue, item) -> int:
    """Put without blocking; if the queue is full, drop its oldest item first. Returns how many were dropped.

    Only one thread puts into each queue, so after taking one item out the put cannot fail.
    """
    try:
        q.put_nowait(item)
        return 0
    except queue.Full:
        pass
    try:
        q.get_nowait()
        dropped = 1
    except queue.Empty:
        dropped = 0
    q.put_nowait(item)
    return dropped


class _End:
    """Sentinel passed down the queues when the source ends."""


END = _End()


class Pipeline:
    def __init__(self, source: Source, detector: Detector, engine: Engine, detect_every: int = 1,
                 max_faces: int = 32, pace: bool = False, max_frames: int = 0):
        self.source, self.detector, self.engine = source, detector, engine
        self.detect_every = max(1, detect_every)
        self.pace = pace  # play a file at its own frame rate (for a window), not as fast as possible
        self.max_frames = max_frames
        self.cropper = FaceCropper(engine.info.input_size, max_faces)
        self.tracker = FaceTracker()
        self.times = StageTimes(STAGES)
        self.counters = Counters()
        live = source.live
        self.frames: queue.Queue = queue.Queue(maxsize=1 if live else 8)
        self.detected: queue.Queue = queue.Queue(maxsize=2 if live else 8)
        self.results: queue.Queue = queue.Queue(maxsize=2 if live else 8)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._guard, args=(self._capture_loop,), name="capture", daemon=True),
            threading.Thread(target=self._guard, args=(self._stage_loop, self.frames, self.detected, self.detect, False),
                             name="detect", daemon=True),
            threading.Thread(target=self._guard, args=(self._stage_loop, self.detected, self.results, self.infer, live),
                             name="infer", daemon=True),
        ]
        self._boxes = np.empty((0, 4), np.int32)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "Pipeline":
        self.counters.started = time.perf_counter()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask both threads to end and join them; True when they did within `timeout` seconds."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.source.close()
        return not any(thread.is_alive() for thread in self._threads)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _guard(self, loop, *args) -> None:
        """Run a thread's loop; an unexpected error ends the run with one message instead of a dead thread."""
        try:
            loop(*args)
        except Exception as error:  # noqa: BLE001 - reported to the user by the main thread
            log.debug("%s thread failed", threading.current_thread().name, exc_info=True)
            self.counters.error = f"{threading.current_thread().name}: {type(error).__name__}: {error}"
            self._put(self.results, END)
            self._stop.set()

    def _put(self, q: queue.Queue, item) -> bool:
        """Blocking put that still notices stop(); False if stopped first."""
        while not self._stop.is_set():
            try:
                q.put(item, timeout=POLL)
                return True
            except queue.Full:
                continue
        return False

    # -- capture thread --------------------------------------------------------------------------
    def _capture_loop(self) -> None:
        index, start = 0, time.perf_counter()
        interval = 1.0 / self.source.fps if self.pace and not self.source.live else 0.0
        while not self._stop.is_set():
            if self.max_frames and index >= self.max_frames:
                break
            with Timer(self.times, "decode"):
                image = self.source.read()
            if image is None:
                break
            now = time.perf_counter()
            timestamp = now - start if self.source.live or self.pace else index / self.source.fps
            frame = Frame(index, timestamp, image)
            index += 1
            self.counters.captured += 1
            if self.source.live:
                self._offer_newest(frame)
            elif not self._put(self.frames, frame):
                return
            if interval:
                time.sleep(max(0.0, start + index * interval - time.perf_counter()))
        self.counters.ended = not self._stop.is_set()
        self._put(self.frames, END)

    def _offer_newest(self, frame: Frame) -> None:
        """Live sources: replace a frame nobody has taken yet, so inference never works on a backlog."""
        self.counters.dropped_capture += put_newest(self.frames, frame)

    # -- detect and infer threads ----------------------------------------------------------------
    def detect(self, frame: Frame) -> Frame:
        """Boxes for this frame: detected every `detect_every` frames, carried over in between."""
        frame.detected = frame.index % self.detect_every == 0 or len(self._boxes) == 0
        if frame.detected:
            with Timer(self.times, "detect"):
                self._boxes, _ = self.detector.detect(frame.image)
        frame.boxes = self._boxes[: self.cropper.max_faces]
        return frame

    def infer(self, frame: Frame) -> Result:
        """Crop all faces, run the engine once on the batch, then track and smooth."""
        boxes = frame.boxes
        with Timer(self.times, "infer"):
            if len(boxes):
                probs = self.engine.infer(self.cropper.crop(frame.image, boxes))
            else:
                probs = np.empty((0, len(self.engine.info.classes)), np.float32)
        with Timer(self.times, "track"):
            tracks: list[Track] = self.tracker.update(boxes, probs, frame.timestamp)
            faces = [FaceResult(t.id, tuple(int(v) for v in t.box), t.probs.copy(), t.raw) for t in tracks]
        self.counters.processed += 1
        return Result(frame, faces, frame.detected)

    def process(self, frame: Frame) -> Result:
        """Everything the detect and infer threads do to one frame, in the calling thread (for baselines/tests)."""
        return self.infer(self.detect(frame))

    def _stage_loop(self, inbox: queue.Queue, outbox: queue.Queue, work, newest_wins: bool) -> None:
        while not self._stop.is_set():
            try:
                item = inbox.get(timeout=POLL)
            except queue.Empty:
                continue
            if item is END:
                self._put(outbox, END)
                return
            out = work(item)
            if newest_wins:
                self._offer_result(out)
            elif not self._put(outbox, out):
                return

    def _offer_result(self, result: Result) -> None:
        self.counters.dropped_render += put_newest(self.results, result)

    # -- main thread -----------------------------------------------------------------------------
    def next_result(self, timeout: float = POLL) -> Result | _End | None:
        """The next Result, END when the pipeline has finished, or None if nothing arrived in `timeout`."""
        try:
            return self.results.get(timeout=timeout)
        except queue.Empty:
            return None

    def summary(self) -> dict:
        elapsed = time.perf_counter() - self.counters.started
        c = self.counters
        return {
            "frames_captured": c.captured, "frames_processed": c.processed,
            "dropped_capture": c.dropped_capture, "dropped_render": c.dropped_render,
            "seconds": round(elapsed, 3), "fps": round(c.processed / elapsed, 2) if elapsed > 0 else 0.0,
            "stages": self.times.summary(), "engine": self.engine.describe(), "detector": self.detector.describe(),
            "source": self.source.describe(), "ended": "source ended" if c.ended else "stopped", "error": c.error,
        }
