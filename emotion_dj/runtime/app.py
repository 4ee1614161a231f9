"""The main thread of run_edge.py: run the pipeline, draw, show, record, log, react to keys and signals.

`build_parts(config)` makes the parts (engine, detector, source, window, outputs, music) and checks the
configuration; `App(config, parts)` runs them. Tests inject their own parts.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from emotion_dj.core.cli import say
from emotion_dj.core.errors import UserError
from emotion_dj.core.outputs import Output, guard_outputs
from emotion_dj.home.bridge import MqttBridge
from emotion_dj.home.discovery import HomeDevice, device_states
from emotion_dj.home.settings import MqttSettings
from emotion_dj.music.dj import DJ, DJSettings
from emotion_dj.music.follow import FollowSettings
from emotion_dj.music.mood import MoodSnapshot, snapshot
from emotion_dj.music.plane import MoodPoint, point_of
from emotion_dj.music.service import Outcome, PlaylistService
from emotion_dj.music.spotify import MusicError, SpotifySettings
from emotion_dj.music.worker import MusicWorker
from emotion_dj.runtime.detectors import Detector, create_detector
from emotion_dj.runtime.engines import Engine, create_engine
from emotion_dj.runtime.frames import Result, RunSummary
from emotion_dj.runtime.outputs import RECORD_SUFFIXES, EventLog, OutputError, Recorder
from emotion_dj.runtime.pipeline import END, Pipeline
from emotion_dj.runtime.processor import FrameProcessor
from emotion_dj.runtime.render import Renderer
from emotion_dj.runtime.report import REPORT_SUFFIXES
from emotion_dj.runtime.shutdown import STOP, StopFlag
from emotion_dj.runtime.sources import Source, open_source, source_kind
from emotion_dj.runtime.stats import Timer
from emotion_dj.runtime.web.server import STATE_INTERVAL, WebServer, is_loopback, parse_address
from emotion_dj.runtime.web.state import live_state
from emotion_dj.runtime.web.token import page_token
from emotion_dj.runtime.web.view import LiveView
from emotion_dj.runtime.window import QUIT_KEYS, Window

log = logging.getLogger(__name__)
HUD_REFRESH = 0.5  # seconds between HUD text updates (percentiles are not computed per frame)


@dataclass
class RunConfig:
    source: str = "0"
    engine: str = "auto"
    precision: str = "auto"
    device: str = "auto"
    detector: str = "auto"
    model: Path | None = None
    yunet_model: Path | None = None
    detect_width: int = 320
    detect_every: int = 1
    ort_threads: int | None = None  # None: the ONNX engine's own default
    stream_timeout: float = 5.0
    reconnect: int = 0
    camera_retries: int = 0  # times to try again to open a camera that is not there, with back-off
    headless: bool = False
    record: Path | None = None
    events: Path | None = None
    report: Path | None = None  # drawn from the events after the run (by the command line)
    summary_json: Path | None = None  # written after the run (by the command line)
    max_frames: int = 0
    draw: bool | None = None  # None: draw when a window or a recording will show it
    pace: bool | None = None  # None: play files at their frame rate when a window shows them
    playlist_tracks: int = 20
    playlist_public: bool = False
    open_links: bool = True
    mirror_alternate: bool = True  # every other frame's crops mirrored: test-time flip through the smoothing, free
    serve: str | None = None  # [HOST:]PORT of the live web page
    serve_fps: float = 15.0  # the most JPEG frames a second the page's stream gets
    serve_token: str | None = None  # for a non-loopback bind; None: the one kept in the config folder (web/token.py)
    dj: bool = False  # play by itself on a Spotify Connect device (music/dj.py)
    dj_target: str = "match"  # match | calm | energize | uplift
    dj_device: str | None = None  # the device's name; None: the active one
    mqtt: str | None = None  # mqtt[s]://[user@]host[:port]: Home Assistant over MQTT (home/)


@dataclass
class AppParts:
    engine: Engine
    detector: Detector
    source: Source
    window: Window | None
    recorder: Recorder | None
    events: EventLog | None
    make_playlist: Callable[[MoodSnapshot, Callable[[str], None]], Outcome]  # (room mood, say a line to the HUD) -> outcome
    web: WebServer | None = None
    home: MqttBridge | None = None


def refuse_overwriting_inputs(config: RunConfig) -> None:
    """Before anything is opened: no output may be an input or another output, and each must be writable."""
    wanted = [Output("--record", config.record, "the recording", RECORD_SUFFIXES) if config.record else None,
              Output("--events", config.events, "events") if config.events else None,
              Output("--report", config.report, "the mood report", REPORT_SUFFIXES) if config.report else None,
              Output("--summary-json", config.summary_json, "the summary") if config.summary_json else None]
    guard_outputs({"--source": config.source, "--model": config.model, "--yunet-model": config.yunet_model},
                  [output for output in wanted if output is not None])


class LazyPlaylistService:
    """The P key's action. Spotify settings are read on the first press, so a bad Spotify configuration never
    stops an app that is not asked for music; it shows in the HUD when P is pressed."""

    def __init__(self, config: RunConfig):
        self.config = config
        self._service: PlaylistService | None = None

    def __call__(self, snap: MoodSnapshot, say: Callable[[str], None]) -> Outcome:
        if self._service is None:
            c = self.config
            try:
                self._service = PlaylistService(SpotifySettings.load(), tracks=c.playlist_tracks, public=c.playlist_public,
                                                open_links=c.open_links, notify=say)
            except MusicError as error:  # every bad setting, checked by type and range where it is read
                return Outcome(False, str(error))
        return self._service.create(snap)


def build_parts(config: RunConfig) -> AppParts:
    """Every part the run needs; cheap checks first, so a bad flag fails before the slow loads."""
    refuse_overwriting_inputs(config)
    web = start_web(config) if config.serve else None  # binds first: a taken port fails before the slow loads
    engine_options = {} if config.ort_threads is None else {"threads": config.ort_threads}
    engine = create_engine(config.engine, config.precision, config.device, model=config.model, **engine_options)
    detector_options = {"detect_width": config.detect_width}
    if config.yunet_model is not None:
        detector_options["yunet_model"] = config.yunet_model
    detector = create_detector(config.detector, **detector_options)
    window = None if config.headless else Window.open("Emotion DJ")
    # a window or the web page keeps showing the demo or an image until Q (or a signal)
    kind = source_kind(config.source.strip())
    source_options = {"loop": (window is not None or web is not None) and kind in ("demo", "image")}  # a video ends
    if kind == "stream":
        source_options.update(timeout=config.stream_timeout, reconnect=config.reconnect)
    if kind == "camera":
        source_options.update(retries=config.camera_retries)
    source = open_source(config.source, **source_options)
    engine.warmup()
    recorder = Recorder(config.record, source.fps) if config.record else None
    events = EventLog(config.events, engine.info.classes) if config.events else None
    home = start_home(config.mqtt) if config.mqtt else None  # last: it dials in the background and must be stopped
    return AppParts(engine, detector, source, window, recorder, events, LazyPlaylistService(config), web, home)


def start_home(url: str) -> MqttBridge:
    """The app as one Home Assistant device; the broker is dialled in the background (never waited for)."""
    settings = MqttSettings.from_url(url, cancelled=STOP.is_set)
    return MqttBridge(settings, [HomeDevice(settings.device_id, f"Emotion DJ {settings.device_id}")]).start()


def start_web(config: RunConfig) -> WebServer:
    import importlib.util

    from emotion_dj.runtime.report import report_svg

    if importlib.util.find_spec("aiohttp") is None:
        raise UserError("--serve needs aiohttp: pip install \"emotion-dj[serve]\"")
    host, port = parse_address(config.serve)
    events = config.events
    token = None if is_loopback(host) else page_token(config.serve_token)
    server = WebServer(LiveView(config.serve_fps), host, port, token and token.value,
                       report=(lambda: report_svg(events)) if events else None).start()
    if server.loopback:
        say(f"Emotion DJ page: {server.url}")
        say(f"Video for players (VLC, Home Assistant's MJPEG camera): {server.stream_url}")
    else:  # the tokens stay out of the log: `emotion-dj links` prints the links with them
        say(f"Emotion DJ page: {server.address}  (open it once with ?token= and the token in {token.where}; "
            "'emotion-dj links' prints the links)")
        say(f"Video for players (VLC, Home Assistant's MJPEG camera): {server.address}video.mjpg?stream=... "
            "(the stream token: 'emotion-dj links')")
    return server


class App:
    def __init__(self, config: RunConfig, parts: AppParts, stop: StopFlag = STOP):
        self.config, self.stop = config, stop
        self.window, self.recorder, self.events, self.web = parts.window, parts.recorder, parts.events, parts.web
        self.classes = parts.engine.info.classes
        self.home = parts.home
        self._home_sum = np.zeros(len(self.classes))  # the faces' moods for Home Assistant (made once)
        self._home_at = 0.0
        self.renderer = Renderer(self.classes)
        self.draw = config.draw if config.draw is not None else bool(self.window or self.recorder)
        pace = config.pace if config.pace is not None else self.window is not None
        self.processor = FrameProcessor(parts.detector, parts.engine, config.detect_every,
                                        mirror_alternate=config.mirror_alternate)
        self.pipeline = Pipeline(parts.source, self.processor, pace=pace, max_frames=config.max_frames)
        self.music = MusicWorker(parts.make_playlist, on_done=self.on_playlist_done)
        self._dj_sum = np.zeros(len(self.classes))  # the DJ thread's own buffer for the room's moods
        self.dj = DJ(self.room_point, settings=DJSettings(target=config.dj_target, device=config.dj_device,
                                                          follow=FollowSettings.from_env())) if config.dj else None
        self.status = ""  # one line for the HUD when no music status is showing
        self.rendered = 0
        self._hud: list[str] = []
        self._hud_at = 0.0
        self.quit_reason = "source ended"
        self.stopped_during_start = False  # a stop signal came while the parts were being built: no frame was run
        self.output_error: str | None = None
        self._finished: list[dict] = []  # playlist outcomes from the music thread, for the event log
        self._timeline = np.zeros_like(self.processor.timeline.samples)  # the strip's copy, refreshed 4 times a second
        self._room_sum = np.zeros(len(self.classes))  # the faces' moods, summed on P (made once)
        self._timeline_seen = 0
        self._state_at = 0.0
        self._last_result: Result | None = None

    def hud_lines(self) -> list[str]:
        now = time.perf_counter()
        if now - self._hud_at >= HUD_REFRESH:
            s = self.pipeline.summary()
            stages = "  ".join(f"{k} {v.p50_ms:.1f}" for k, v in s.stages.items() if v.count)
            self._hud = [f"{s.fps:.0f} FPS  |  {s.engine}  |  {s.detector}",
                         f"ms p50: {stages}",
                         f"dropped {s.dropped_capture + s.dropped_render}  |  P: playlist  Q: quit"]
            if s.nonfinite_outputs:
                self._hud.append(f"model output NaN/Inf: {s.nonfinite_outputs} face(s) left out")
            self._hud_at = now
        status = self.music.status or self.status
        dj = self.dj.state["status"] if self.dj else ""
        return self._hud + [line for line in (status, dj) if line]

    def room_point(self) -> MoodPoint | None:
        """The room's mood point now (every face in view, each weighing the same); called on the DJ's thread."""
        faces = self.processor.moods_into(self._dj_sum)
        return point_of(self.classes, self._dj_sum / faces) if faces else None

    def on_key(self, key: int) -> bool:
        """React to a key; False means quit."""
        if key in QUIT_KEYS:
            self.quit_reason = "quit by key"
            return False
        if key in (ord("p"), ord("P")):
            self.snapshot_mood()
        return True

    def snapshot_mood(self) -> MoodSnapshot | None:
        """P: the room's mood over the last seconds (every face in view, each weighing the same) -> a playlist,
        made on the music worker thread."""
        main = self.processor.main_face()
        faces = self.processor.moods_into(self._room_sum)
        if main is None or faces == 0:
            self.music.status, self.status = "", "P: no face in view, no mood to play"
            return None
        snap = snapshot(self.classes, self._room_sum / faces, main[0], faces)
        started = self.music.request(snap)
        if self.events:
            self.events.event("mood_snapshot", t=round(self.elapsed(), 3), face=main[0], faces=faces, mood=snap.probs,
                              point=snap.point.rounded(), playlist_mood=snap.mood.title, started=started)
        return snap

    def on_playlist_done(self, snap: MoodSnapshot, outcome: Outcome) -> None:
        """On the music thread: note the outcome; the main thread writes it to the events (one writer)."""
        log.info("playlist for %s: %s", snap.describe(), outcome.message)
        self._finished.append({"t": round(self.elapsed(), 3), "face": snap.face_id, "ok": outcome.ok,
                               "message": outcome.message})

    def elapsed(self) -> float:
        return time.perf_counter() - self.pipeline.counters.started

    def handle(self, result: Result) -> None:
        self._last_result = result
        # The page's stream gets at most --serve-fps frames a second, and only while watched: only those are drawn
        # for it (drawing every frame for a 15 FPS stream cost 19% of the frame rate here).
        serve_frame = self.web is not None and self.web.view.wants_frame()
        if self.draw or serve_frame:
            with Timer(self.pipeline.times, "render"):
                image = result.frame.image
                self.renderer.draw_faces(image, result)
                self.renderer.draw_hud(image, self.hud_lines())
                self._refresh_strip()
                self.renderer.draw_strip(image)
                if self.recorder:
                    self.recorder.write(image)
                if self.window:
                    self.window.show(image)
                if serve_frame:
                    self.web.view.offer_frame(image)
        if self.events:
            self.events.frame(result)
            while self._finished:
                self.events.event("playlist", **self._finished.pop(0))
        self.rendered += 1

    def _loop(self) -> None:
        while not self.stop.is_set():
            item = self.pipeline.next_result()
            if item is END:
                return
            if item is not None:
                self.handle(item)
            if self.events:
                self.events.flush_if_due()
            if self.web:
                self._serve_tick()
            if self.home:
                self._home_tick()
            if self.window:
                key = self.window.poll_key()
                if key is not None and not self.on_key(key):
                    return
                if self.window.closed():
                    self.quit_reason = "window closed"
                    return
        self.quit_reason = self.stop.reason

    def run(self) -> RunSummary:
        if self.stop.is_set():  # a signal arrived while the parts were being built
            self.quit_reason = self.stop.reason
            self.stopped_during_start = True
        else:
            self.pipeline.start()
            if self.dj:
                self.dj.start()
            try:
                self._loop()
            except OutputError as error:
                self.output_error = str(error)
        joined = self.pipeline.stop(timeout=1.0)
        self._close_outputs()
        if self.window:
            self.window.close()
        if self.web:
            self.web.stop()
        self.music.join(timeout=0.5)  # a request in flight is abandoned, not waited for
        if self.dj:
            self.dj.stop(timeout=1.0)  # the same: a hung request never holds the exit
        if self.home:
            self.home.stop(timeout=1.0)  # says offline; a silent broker never holds the exit
        summary = self.pipeline.summary()
        summary.frames_rendered = self.rendered
        summary.threads_joined = joined
        summary.error = self.output_error or summary.error
        summary.stopped_by = "error" if summary.error else self.quit_reason
        if self.recorder:
            summary.recorded_frames = self.recorder.frames
        if self.events:
            summary.events_lines = self.events.lines
        if self.music.last:
            summary.music = self.music.status
        return summary

    def _refresh_strip(self) -> None:
        """Copy the main face's mood timeline (for the drawn strip and the page) when it has a new sample."""
        seen = self.processor.timeline_into(self._timeline, self._timeline_seen)
        if seen != self._timeline_seen:
            self._timeline_seen = seen
            self.renderer.update_strip(self._timeline, seen)

    def _serve_tick(self) -> None:
        """The page's side of the loop: its playlist button (exactly P), and the live state a few times a second."""
        if self.web.view.take_playlist_request():
            self.snapshot_mood()
        command = self.web.view.take_dj_command()
        if command:
            self.command_dj(command)
        now = time.perf_counter()
        if now - self._state_at < STATE_INTERVAL:
            return
        self._state_at = now
        self._refresh_strip()
        last = self.music.last
        music = {"status": self.music.status or self.status, "busy": self.music.busy,
                 "ok": None if last is None else last.ok, "url": None if last is None else last.url,
                 "dj": self.dj.state if self.dj else None}
        self.web.view.publish_state(live_state(self.classes, self._last_result, self.processor.main_face(),
                                               self._timeline, self.pipeline.summary(), music))

    def _home_tick(self) -> None:
        """Home Assistant's side of the loop: its controls (exactly P and the page's DJ switch), and the states a few
        times a second (the bridge sends only what changed, from its own thread)."""
        for _, command in self.home.take_commands():
            if command.get("playlist"):
                self.snapshot_mood()
            else:
                self.command_dj(command)
        now = time.perf_counter()
        if now - self._home_at < STATE_INTERVAL:
            return
        self._home_at = now
        faces = self.processor.moods_into(self._home_sum)
        room = point_of(self.classes, self._home_sum / faces) if faces else None
        main = self.processor.main_face()
        if main is not None:
            snap = snapshot(self.classes, main[1], main[0])
            main = (snap.mood.emotion, snap.confidence, snap.probs)
        last = self.music.last
        playlist = (None if last is None else last.url, None if last is None else last.ok, self.music.status or self.status)
        dj = self.dj.state if self.dj else {"on": False, "target": self.config.dj_target}
        self.home.offer(self.home.settings.device_id, device_states(room, faces, main, self.pipeline.summary().fps, dj, playlist))

    def command_dj(self, command: dict) -> None:
        """The page's DJ switch and target (checked by the server). The first 'on' of an app started without --dj
        makes its DJ; a target set before it is kept for it (Home Assistant's example sets the target, then ON)."""
        if self.dj is None:
            if "target" in command:
                self.config = replace(self.config, dj_target=command["target"])
            if not command.get("on"):
                return
            self.dj = DJ(self.room_point, settings=DJSettings(target=self.config.dj_target, device=self.config.dj_device))
        if "target" in command:
            self.dj.set_target(command["target"])
        if "on" in command:
            self.dj.set_on(command["on"])

    def _close_outputs(self) -> None:
        """Finalise the video and flush the events, each whatever happens to the other; then a console close that
        waits on it (Windows) may end the process."""
        for output in (self.recorder, self.events):
            if output is None:
                continue
            try:
                output.close()
            except OutputError as error:
                self.output_error = self.output_error or str(error)
        STOP.done()
