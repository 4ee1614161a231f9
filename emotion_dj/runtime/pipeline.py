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

from emotion_dj.core.errors import UserError
from emotion_dj.runtime.frames import Frame, Result, RunSummary
from emotion_dj.runtime.processor import FrameProcessor
from emotion_dj.runtime.sources import Source
from emotion_dj.runtime.stats import Timer

log = logging.getLogger(__name__)
POLL = 0.05  # seconds a blocked thread waits before checking the stop flag again


@dataclass
class Counters:
    captured: int = 0
    dropped_capture: int = 0  # live frames replaced by a newer one before inference took them
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
    """Runs a FrameProcessor's two stages in their own threads behind a capture thread (with in_flight > 1, the
    infer stage is two threads, submit and complete, so a remote engine has several frames in flight)."""

    def __init__(self, source: Source, processor: FrameProcessor, pace: bool = False, max_frames: int = 0,
                 first_index: int = 0, in_flight: int = 1):
        self.source, self.processor = source, processor
        self.first_index = first_index  # a resumed run numbers (and times) its frames from where the last one stopped
        self.times = processor.times
        self.pace = pace  # play a file at its own frame rate (for a window), not as fast as possible
        self.max_frames = max_frames
        self.counters = Counters()
        live = source.live
        self.frames: queue.Queue = queue.Queue(maxsize=1 if live else 8)
        self.detected: queue.Queue = queue.Queue(maxsize=2 if live else 8)
        self.results: queue.Queue = queue.Queue(maxsize=2 if live else 8)
        self._stop = threading.Event()
        self._finish = threading.Event()  # no more frames: the ones in flight still go through (finish())
        self._threads = [
            threading.Thread(target=self._guard, args=(self._capture_loop,), name="capture", daemon=True),
            threading.Thread(target=self._guard, args=(self._stage_loop, self.frames, self.detected, processor.detect,
                                                       False), name="detect", daemon=True),
        ]
        if in_flight <= 1:  # a local engine: crop, score, track in one thread
            self._threads.append(threading.Thread(target=self._guard, args=(
                self._stage_loop, self.detected, self.results, processor.infer, live), name="infer", daemon=True))
        else:  # a remote engine: up to `in_flight` frames sent before the oldest answer is taken, in order
            self.scoring: queue.Queue = queue.Queue(maxsize=in_flight - 1)
            self._threads += [
                threading.Thread(target=self._guard, args=(self._stage_loop, self.detected, self.scoring, processor.submit,
                                                           False), name="submit", daemon=True),
                threading.Thread(target=self._guard, args=(self._stage_loop, self.scoring, self.results,
                                                           processor.complete, live), name="complete", daemon=True)]

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Pipeline:
        self.counters.started = time.perf_counter()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask the threads to end and join them; True when they did within `timeout` seconds.

        The source is closed only once the capture thread has left source.read(): releasing an OpenCV capture
        that another thread is reading from crashes the process. Streams are opened with a read timeout, so a
        stalled read returns; if it has not yet, the capture is left for the OS to reclaim at exit.
        """
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.ident is not None:  # a stop before start (a signal during start-up) has nothing to join
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._threads[0].is_alive():
            log.warning("the source is still inside read(); not closing it under the reading thread")
        else:
            self.source.close()
        return not any(thread.is_alive() for thread in self._threads)

    def finish(self) -> None:
        """Read no more frames, but let those already read go through every stage: the results end with END.
        (stop() instead drops what is in flight.)"""
        self._finish.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _guard(self, loop, *args) -> None:
        """Run a thread's loop; an unexpected error ends the run with one message instead of a dead thread."""
        try:
            loop(*args)
        except Exception as error:  # noqa: BLE001 - reported to the user by the main thread
            log.debug("%s thread failed", threading.current_thread().name, exc_info=True)
            message = str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
            self.counters.error = f"{threading.current_thread().name}: {message}"
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
        index, start = self.first_index, time.perf_counter()
        interval = 1.0 / self.source.fps if self.pace and not self.source.live else 0.0
        while not self._stop.is_set() and not self._finish.is_set():
            if self.max_frames and index >= self.max_frames:
                break
            with Timer(self.times, "decode"):
                image = self.source.read()
            if image is None:
                break
            now = time.perf_counter()
            timestamp = now - start if self.source.live or self.pace else index / self.source.fps  # resumed: file time
            frame = Frame(index, timestamp, image)
            index += 1
            self.counters.captured += 1
            if self.source.live:
                self.counters.dropped_capture += put_newest(self.frames, frame)
            elif not self._put(self.frames, frame):
                return
            if interval:
                self._stop.wait(max(0.0, start + (index - self.first_index) * interval - time.perf_counter()))
        self.counters.ended = not self._stop.is_set() and not self._finish.is_set()
        self._put(self.frames, END)

    # -- detect and infer threads ----------------------------------------------------------------
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
                self.counters.dropped_render += put_newest(self.results, out)
            elif not self._put(outbox, out):
                return

    # -- main thread -----------------------------------------------------------------------------
    def next_result(self, timeout: float = POLL) -> Result | _End | None:
        """The next Result, END when the pipeline has finished, or None if nothing arrived in `timeout`."""
        try:
            return self.results.get(timeout=timeout)
        except queue.Empty:
            return None

    def summary(self) -> RunSummary:
        elapsed = time.perf_counter() - self.counters.started
        c = self.counters
        processed = self.processor.processed
        return RunSummary(
            source=self.source.describe(), engine=self.processor.engine.describe(),
            detector=self.processor.detector.describe(),
            frames_captured=c.captured, frames_processed=processed,
            dropped_capture=c.dropped_capture, dropped_render=c.dropped_render,
            seconds=round(elapsed, 3), fps=round(processed / elapsed, 2) if elapsed > 0 else 0.0,
            stages=self.times.summary(), ended="source ended" if c.ended else "stopped", error=c.error,
            nonfinite_outputs=self.processor.nonfinite, dropped_inference=self.processor.dropped)
