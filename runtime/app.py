"""The main thread of run_edge.py: build the parts, run the pipeline, draw, show, record, log, react to keys."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.detectors import create_detector
from runtime.engines import create_engine
from runtime.music.mood import MoodSnapshot, snapshot
from runtime.music.service import Outcome, PlaylistService
from runtime.music.spotify import MusicError, SpotifySettings
from runtime.music.worker import MusicWorker
from runtime.errors import UserError
from runtime.outputs import EventLog, Recorder
from runtime.pipeline import END, Pipeline, Result
from runtime.render import Renderer
from runtime.sources import open_source
from runtime.stats import Timer
from runtime.window import QUIT_KEYS, Window

log = logging.getLogger(__name__)
HUD_REFRESH = 0.5  # seconds between HUD text updates (percentiles are not computed per frame)


@dataclass
class RunConfig:
    source: str = "demo"
    engine: str = "auto"
    precision: str = "fp32"
    device: str = "auto"
    detector: str = "auto"
    model: Path | None = None
    yunet_model: str | None = None
    detect_width: int = 320
    detect_every: int = 1
    headless: bool = False
    record: Path | None = None
    events: Path | None = None
    max_frames: int = 0
    draw: bool | None = None  # None: draw when a window or a recording will show it
    pace: bool | None = None  # None: play files at their frame rate when a window shows them
    playlist_tracks: int = 20
    playlist_public: bool = False
    open_links: bool = True


class App:
    def __init__(self, config: RunConfig):
        self.config = config
        # Order matters for clear errors: cheap checks (source, model) before slow ones.
        # One ONNX Runtime thread: detection and inference already run in parallel threads, and on a small CPU
        # two intra-op threads fight the detector for the same cores (measured: benchmarks/results/).
        self.engine = create_engine(config.engine, config.precision, config.device, model=config.model, threads=1)
        self.detector = create_detector(config.detector, yunet_model=config.yunet_model, detect_width=config.detect_width)
        self.window = None if config.headless else Window.open("Emotion DJ")
        self.source = open_source(config.source, loop=self.window is not None)
        self.engine.warmup()
        self.classes = self.engine.info.classes
        self.renderer = Renderer(self.classes)
        self.recorder = Recorder(config.record, self.source.fps) if config.record else None
        self.events = EventLog(config.events, self.classes) if config.events else None
        self.draw = config.draw if config.draw is not None else bool(self.window or self.recorder)
        pace = config.pace if config.pace is not None else self.window is not None
        self.pipeline = Pipeline(self.source, self.detector, self.engine, config.detect_every,
                                 pace=pace, max_frames=config.max_frames)
        self.music = MusicWorker(self.make_playlist_service().create, on_done=self.on_playlist_done)
        self.status = ""  # one line for the HUD when no music status is showing
        self.rendered = 0
        self._hud: list[str] = []
        self._hud_at = 0.0
        self.quit_reason = "source ended"

    def hud_lines(self) -> list[str]:
        now = time.perf_counter()
        if now - self._hud_at >= HUD_REFRESH:
            s = self.pipeline.summary()
            stages = "  ".join(f"{k} {v['p50_ms']:.1f}" for k, v in s["stages"].items() if v["count"])
            self._hud = [f"{s['fps']:.0f} FPS  |  {s['engine']}  |  {s['detector']}",
                         f"ms p50: {stages}",
                         f"dropped {s['dropped_capture'] + s['dropped_render']}  |  P: playlist  Q: quit"]
            self._hud_at = now
        status = self.music.status or self.status
        return self._hud + ([status] if status else [])

    def make_playlist_service(self) -> PlaylistService:
        c = self.config
        try:
            settings = SpotifySettings.load()
        except MusicError as error:
            raise UserError(str(error)) from None
        return PlaylistService(settings, tracks=c.playlist_tracks, public=c.playlist_public, open_links=c.open_links)

    def on_key(self, key: int) -> bool:
        """React to a key; False means quit."""
        if key in QUIT_KEYS:
            self.quit_reason = "quit by key"
            return False
        if key in (ord("p"), ord("P")):
            self.snapshot_mood()
        return True

    def snapshot_mood(self) -> MoodSnapshot | None:
        """P: the main face's mood over the last seconds -> a playlist, made on the music worker thread."""
        main = self.pipeline.tracker.main_face()
        if main is None:
            self.music.status, self.status = "", "P: no face in view, no mood to play"
            return None
        snap = snapshot(self.classes, main.mood.copy(), main.id)
        started = self.music.request(snap)
        if self.events:
            self.events.event("mood_snapshot", face=main.id, mood=snap.probs, playlist_mood=snap.mood.title,
                              started=started)
        return snap

    def on_playlist_done(self, snap: MoodSnapshot, outcome: Outcome) -> None:
        log.info("playlist for %s: %s", snap.describe(), outcome.message)

    def handle(self, result: Result) -> None:
        if self.draw:
            with Timer(self.pipeline.times, "render"):
                image = result.frame.image
                self.renderer.draw_faces(image, result)
                self.renderer.draw_hud(image, self.hud_lines())
                if self.recorder:
                    self.recorder.write(image)
                if self.window:
                    self.window.show(image)
        if self.events:
            self.events.frame(result)
        self.rendered += 1

    def run(self) -> dict:
        self.pipeline.start()
        try:
            while True:
                item = self.pipeline.next_result()
                if item is END:
                    break
                if item is not None:
                    self.handle(item)
                if self.window:
                    key = self.window.poll_key()
                    if key is not None and not self.on_key(key):
                        break
                    if self.window.closed():
                        self.quit_reason = "window closed"
                        break
        except KeyboardInterrupt:
            self.quit_reason = "interrupted (Ctrl-C)"
        finally:
            joined = self.pipeline.stop(timeout=1.0)
            if self.recorder:
                self.recorder.close()
            if self.events:
                self.events.close()
            if self.window:
                self.window.close()
            self.music.join(timeout=0.5)  # a request in flight is abandoned, not waited for
        summary = self.pipeline.summary()
        summary.update(frames_rendered=self.rendered, threads_joined=joined,
                       stopped_by=summary["error"] and "error" or self.quit_reason)
        if self.recorder:
            summary["recorded_frames"] = self.recorder.frames
        if self.music.last:
            summary["music"] = self.music.status
        return summary


def format_summary(s: dict) -> str:
    stages = "  ".join(f"{k} {v['p50_ms']:.2f}/{v['p95_ms']:.2f}" for k, v in s["stages"].items() if v["count"])
    return "\n".join([
        f"Emotion DJ: {s['frames_processed']} frames from {s['source']} in {s['seconds']:.2f} s -> {s['fps']:.1f} FPS "
        f"({s['stopped_by']})",
        f"  engine {s['engine']}, detector {s['detector']}",
        f"  frames: captured {s['frames_captured']}, processed {s['frames_processed']}, rendered {s['frames_rendered']}, "
        f"dropped {s['dropped_capture']} at capture + {s['dropped_render']} at render",
        f"  stage ms p50/p95: {stages}",
        *([f"  music: {s['music']}"] if s.get("music") else []),
    ])
