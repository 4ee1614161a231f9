"""The threaded pipeline with stand-in parts: live sources never queue a backlog, files lose no frame, stop is prompt."""
import time

import numpy as np

from emotion_dj.core.contract import ModelInfo
from emotion_dj.runtime.detectors import Detections
from emotion_dj.runtime.engines import Engine
from emotion_dj.runtime.pipeline import END, Pipeline
from emotion_dj.runtime.processor import FrameProcessor
from emotion_dj.runtime.sources import Source

INFO = ModelInfo(classes=tuple("abcdefg"), input_size=48, precision="fp32", temperature=1.0)


class CountingSource(Source):
    def __init__(self, frames: int, live: bool, delay: float = 0.0):
        self.frames, self.live, self.delay, self.index = frames, live, delay, 0

    @classmethod
    def claims(cls, spec):
        return False

    @classmethod
    def create(cls, options):
        raise NotImplementedError

    def read(self):
        if self.index >= self.frames:
            return None
        time.sleep(self.delay)
        self.index += 1
        return np.full((120, 160, 3), self.index % 255, np.uint8)


class OneFace:
    name = "fake"

    def detect(self, frame):
        return Detections(np.array([[10, 10, 60, 60]], np.int32), np.ones(1, np.float32))

    def describe(self):
        return "fake"


class SlowEngine(Engine):
    def __init__(self, delay: float):
        super().__init__(INFO)
        self.delay = delay

    @classmethod
    def create(cls, options):
        raise NotImplementedError

    def infer(self, faces):
        time.sleep(self.delay)
        return np.full((len(faces), 7), 1 / 7, np.float32)

    def describe(self):
        return "slow"


def drain(pipeline: Pipeline) -> list:
    results = []
    while (item := pipeline.next_result(timeout=2.0)) is not END:
        assert item is not None, "pipeline stalled"
        results.append(item)
    return results


def test_file_source_processes_every_frame_in_order():
    pipeline = Pipeline(CountingSource(40, live=False), FrameProcessor(OneFace(), SlowEngine(0.002))).start()
    results = drain(pipeline)
    assert pipeline.stop()
    assert [r.frame.index for r in results] == list(range(40))
    s = pipeline.summary()
    assert s.frames_captured == s.frames_processed == 40 and s.dropped_capture == 0
    assert {f.id for r in results for f in r.faces} == {1}


def test_live_source_keeps_only_the_newest_frame():
    pipeline = Pipeline(CountingSource(200, live=True, delay=0.001), FrameProcessor(OneFace(), SlowEngine(0.02))).start()
    results = drain(pipeline)
    assert pipeline.stop()
    s = pipeline.summary()
    assert s.dropped_capture > 100  # inference at ~50 FPS cannot keep up with ~1000 FPS
    assert s.frames_captured == s.frames_processed + s.dropped_capture
    assert len(results) + s.dropped_render == s.frames_processed
    # no backlog: the frame processed last is (nearly) the last one captured
    assert results[-1].frame.index >= 195


def test_stop_joins_threads_within_a_second_even_mid_stream():
    pipeline = Pipeline(CountingSource(10_000, live=False, delay=0.001), FrameProcessor(OneFace(), SlowEngine(0.01))).start()
    time.sleep(0.3)
    started = time.monotonic()
    assert pipeline.stop(timeout=1.0)
    assert time.monotonic() - started < 1.0


def test_detect_every_n_frames_carries_boxes_between():
    pipeline = Pipeline(CountingSource(12, live=False), FrameProcessor(OneFace(), SlowEngine(0.0), detect_every=4)).start()
    results = drain(pipeline)
    pipeline.stop()
    assert [r.detected for r in results] == [i % 4 == 0 for i in range(12)]
    assert all(len(r.faces) == 1 for r in results)
    assert pipeline.times.count("detect") == 3


def test_an_engine_failure_ends_the_run_with_a_message():
    class Broken(SlowEngine):
        def infer(self, faces):
            raise ValueError("boom")

    pipeline = Pipeline(CountingSource(10, live=False), FrameProcessor(OneFace(), Broken(0))).start()
    assert drain(pipeline) == []
    pipeline.stop()
    assert "ValueError: boom" in pipeline.summary().error
