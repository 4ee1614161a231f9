"""One camera of a fleet, as a Ray actor: the single app's frame path with the model one network hop away.

The camera runs the project's own `Pipeline` and `FrameProcessor` (capture, detect, crop, track, smooth: the same
code as run_edge.py), with a `RemoteEngine` in place of a local one: each frame's crops (uint8 N x 1 x S x S, the
model contract) go to the fleet's batched model service, never the frames. It writes its own events file (the
single app's schema) and reports its faces' moods to the Rooms actor.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

from emotion_dj.core.contract import ModelInfo
from emotion_dj.core.errors import UserError
from emotion_dj.fleet.config import CameraSettings, ModelSettings
from emotion_dj.runtime.detectors import create_detector
from emotion_dj.runtime.engines import Engine, InferenceDropped
from emotion_dj.runtime.outputs import EventLog, OutputError, next_frame_index
from emotion_dj.runtime.pipeline import END, Pipeline
from emotion_dj.runtime.processor import FrameProcessor
from emotion_dj.runtime.sources import open_source, source_kind

log = logging.getLogger(__name__)
ROOM_REPORT_EVERY = 0.5  # seconds between a camera's mood reports to its room
LATENCY_SAMPLES = 1 << 14  # the ring of per-frame latencies behind the p50/p95
FINISH_S = 4.0  # on stop, how long the frames in flight get to be scored and written


class Call:
    """One Serve request: the crops of one or more frames of this camera, in order, and (once known) its answer."""

    __slots__ = ("response", "answer", "error", "frames")

    def __init__(self, response, frames: int):
        self.response, self.frames = response, frames
        self.answer = self.error = None


class RemoteScoring:
    """One frame on its way: its crops (kept for a retry), the call that carries them and its rows in that call."""

    __slots__ = ("engine", "faces", "submitted", "call", "rows")

    def __init__(self, engine: RemoteEngine, faces: np.ndarray):
        self.engine, self.faces, self.submitted = engine, faces, time.perf_counter()
        self.call: Call | None = None
        self.rows = (0, len(faces))

    def result(self) -> np.ndarray:
        return self.engine.collect(self)


class RemoteEngine(Engine):
    """An Engine whose answers come from the fleet's model deployment (a Serve handle).

    submit() returns at once, so the camera's Pipeline keeps `in_flight` frames on their way; their answers are
    taken in order. One call is outstanding at a time: the frames submitted while it is on its way travel together
    in the next one. Serve's cost per request (a few ms of CPU on each side) is then shared by the frames that
    piled up during the last round trip, and a camera keeps its detection rate whatever the round trip: the
    slower the answers, the more frames each call carries (up to `in_flight`).

    A call that fails (its replica died, or no answer within `timeout_s`) is retried frame by frame, `retries` times,
    by Serve's router on a live replica; then the frame is given up with InferenceDropped, which the frame processor
    counts.
    """

    name = "serve"

    def __init__(self, handle, info: ModelInfo, description: str, retries: int = 3, timeout_s: float = 10.0):
        super().__init__(info)
        self.handle, self.description = handle, description
        self.retries, self.timeout_s = retries, timeout_s
        self._lock = threading.Lock()
        self._waiting: list[RemoteScoring] = []  # submitted while a call is outstanding: they go in the next one
        self._outstanding: Call | None = None
        self.calls = self.frames = self.faces = self.retried = self.dropped = 0
        self.batch_requests = self.batch_faces = 0  # summed over calls: the replica batches this camera's calls rode in
        self.latencies = np.zeros(LATENCY_SAMPLES, np.float32)  # seconds from a frame's submit to its answer
        self.last_error = ""

    @classmethod
    def create(cls, options):  # made by the camera actor from a handle, never from the engine registry
        raise UserError("the serve engine exists only inside a fleet")

    def infer(self, faces: np.ndarray) -> np.ndarray:
        return self.submit(faces).result()

    def submit(self, faces: np.ndarray) -> RemoteScoring:
        # The cropper's batch is reused by the next frame, and the handle sends its arguments later: a copy goes.
        scoring = RemoteScoring(self, faces.copy())
        with self._lock:
            self._waiting.append(scoring)
            if self._outstanding is None:
                self._send_waiting()
        return scoring

    def _send_waiting(self) -> None:
        """Send every waiting frame in one call (the lock is held)."""
        waiting, self._waiting = self._waiting, []
        faces = waiting[0].faces if len(waiting) == 1 else np.concatenate([w.faces for w in waiting])
        call = Call(self.handle.infer.remote(faces), len(waiting))
        row = 0
        for scoring in waiting:
            scoring.call, scoring.rows = call, (row, row + len(scoring.faces))
            row += len(scoring.faces)
        self._outstanding = call

    def _answer(self, call: Call):
        """The call's answer (waited for once, by the first of its frames); then the frames waiting meanwhile go."""
        if call.answer is None and call.error is None:
            try:
                call.answer = call.response.result(timeout_s=self.timeout_s)
                probs, requests, batch_faces = call.answer
                self.calls += 1
                self.batch_requests += requests
                self.batch_faces += batch_faces
            except Exception as error:  # noqa: BLE001 - a dead replica, a timeout: its frames are retried one by one
                call.error = error
            finally:
                with self._lock:
                    if self._outstanding is call:
                        self._outstanding = None
                        if self._waiting:
                            self._send_waiting()
        if call.error is not None:
            raise call.error
        return call.answer[0]

    def collect(self, scoring: RemoteScoring) -> np.ndarray:
        """The answer to one submit(): retried alone on a live replica where its call failed, else InferenceDropped."""
        for attempt in range(self.retries + 1):
            try:
                probs = self._answer(scoring.call)
            except Exception as error:  # noqa: BLE001 - retried, then counted as dropped
                self.last_error = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
                if attempt == 0:
                    log.warning("model service call failed (%s); retrying", self.last_error)
                if attempt < self.retries:
                    self.retried += 1
                    time.sleep(min(0.25 * 2 ** attempt, 2.0))  # give Serve time to replace the replica
                    scoring.call, scoring.rows = Call(self.handle.infer.remote(scoring.faces), 1), (0, len(scoring.faces))
                continue
            self.latencies[self.frames % LATENCY_SAMPLES] = time.perf_counter() - scoring.submitted
            self.frames += 1
            self.faces += len(scoring.faces)
            return probs[scoring.rows[0]:scoring.rows[1]]
        self.dropped += 1
        raise InferenceDropped(self.last_error)

    def describe(self) -> str:
        return f"serve: {self.description}"

    def stats(self) -> dict:
        recent = self.latencies[:min(self.frames, LATENCY_SAMPLES)] * 1000
        return {"model_calls": self.calls, "faces_scored": self.faces, "retried_calls": self.retried,
                "dropped_calls": self.dropped,
                "mean_frames_per_call": round(self.frames / self.calls, 2) if self.calls else None,
                "mean_batch_requests": round(self.batch_requests / self.calls, 2) if self.calls else None,
                "mean_batch_faces": round(self.batch_faces / self.calls, 2) if self.calls else None,
                "latency_p50_ms": round(float(np.percentile(recent, 50)), 2) if len(recent) else None,
                "latency_p95_ms": round(float(np.percentile(recent, 95)), 2) if len(recent) else None}


class CameraWorker:
    """A Ray actor (threaded: stop() answers while run() works)."""

    def __init__(self, camera: CameraSettings, model: ModelSettings, model_handle, rooms, events: str | None,
                 max_frames: int = 0, resume: bool = False):
        self.camera, self.model, self.model_handle, self.rooms = camera, model, model_handle, rooms
        self.events_path, self.max_frames, self.resume = events, max_frames, resume
        self._stop = threading.Event()
        self.pipeline: Pipeline | None = None
        self.engine: RemoteEngine | None = None

    def stop(self) -> None:
        self._stop.set()

    def _build(self) -> tuple[Pipeline, EventLog | None]:
        c = self.camera
        info = self.model_handle.info.remote().result(timeout_s=120)
        description = self.model_handle.describe.remote().result(timeout_s=120)["engine"]
        self.engine = RemoteEngine(self.model_handle, info, description, self.model.retries, self.model.timeout_s)
        detector = create_detector(c.detector, detect_width=c.detect_width)
        options = {"loop": c.loop}
        if source_kind(c.source) == "stream":
            options.update(timeout=c.stream_timeout, reconnect=c.reconnect)
        source = open_source(c.source, **options)
        first = next_frame_index(self.events_path) if self.resume and self.events_path else 0
        if first and not source.live:  # a file goes on where the last run's events end
            for _ in range(first):
                if source.read() is None:
                    break
        events = EventLog(self.events_path, info.classes, append=self.resume) if self.events_path else None
        processor = FrameProcessor(detector, self.engine, c.detect_every, mirror_alternate=c.mirror_alternate)
        return Pipeline(source, processor, max_frames=self.max_frames, first_index=first,
                        in_flight=self.model.in_flight), events

    def run(self) -> dict:
        """Until the source ends, max_frames, or stop(); returns the camera's summary. A user error (a source that
        cannot be opened or stalls) comes back as the summary's `error`, for the fleet to restart the camera."""
        events = None
        try:
            self.pipeline, events = self._build()
        except (UserError, OutputError) as error:
            return {"camera": self.camera.name, "room": self.camera.room, "error": str(error), "frames_processed": 0}
        pipeline = self.pipeline
        mood_sum = np.zeros(len(self.engine.info.classes), np.float64)
        reported, error, deadline = time.monotonic(), None, None  # the first report after the first frames
        delivered = 0  # results taken from the pipeline (each one an events line)
        started_at = time.time()  # wall clock: the benchmark spans all cameras from the first frame to the last
        pipeline.start()
        try:
            while deadline is None or time.monotonic() < deadline:
                if self._stop.is_set() and deadline is None:  # stop: read no more, score what is in flight
                    pipeline.finish()
                    deadline = time.monotonic() + FINISH_S
                item = pipeline.next_result()
                if item is END:
                    break
                if item is not None and not item.dropped:
                    delivered += 1
                    if events:
                        events.frame(item)
                elif events:
                    events.flush_if_due()
                if time.monotonic() - reported >= ROOM_REPORT_EVERY:
                    faces_now = pipeline.processor.moods_into(mood_sum)
                    self.rooms.report.remote(self.camera.name, mood_sum, faces_now)
                    reported = time.monotonic()
        except OutputError as output_error:
            error = str(output_error)
        finally:
            joined = pipeline.stop(timeout=2.0)
            if events:
                events.close()
        self.rooms.report.remote(self.camera.name, mood_sum, pipeline.processor.moods_into(mood_sum))
        summary = pipeline.summary()
        # A stop that outlasts FINISH_S abandons what is still in flight: counted, so no frame goes uncounted.
        abandoned = summary.frames_processed - delivered
        summary.frames_processed = delivered
        summary.threads_joined = joined
        summary.error = error or summary.error
        summary.stopped_by = "error" if summary.error else "stop" if self._stop.is_set() else summary.ended
        if events:
            summary.events_lines = events.lines
        return {"camera": self.camera.name, "room": self.camera.room, "first_frame": pipeline.first_index,
                "started_at": started_at, "ended_at": time.time(), "abandoned_at_stop": abandoned,
                **summary.to_dict(), **self.engine.stats()}
