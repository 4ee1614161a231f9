"""The Ray Serve side of a fleet: the batched emotion model and the HTTP ingress for rooms and playlists.

`EmotionModel` runs the project's own engines (ONNX Runtime CPU/CUDA, TensorRT, torch). Each request is one camera
frame's face crops, uint8 N x 1 x S x S (the model contract); `@serve.batch` gathers the requests that arrive
within `batch_wait_ms` from every camera into one engine call, and each caller gets its own rows back with the
size of the batch it rode in (so the cameras' summaries can say how well batching worked without asking every
replica). Ray runs `replicas` copies: one per GPU with device cuda.
"""
from __future__ import annotations

import argparse
import asyncio
import os

import numpy as np
from ray import serve

from emotion_dj.core.cli import number
from emotion_dj.fleet.front import bearer_ok
from emotion_dj.runtime.engines import create_engine
from emotion_dj.runtime.web.server import CSRF_HEADER, is_loopback


class EmotionModel:
    def __init__(self, engine: str, precision: str, device: str, model: str | None, threads: int, max_batch: int,
                 batch_wait_ms: float):
        options = {"model": model} if model else {}
        if engine == "onnx":  # the replica shares the CPU with the cameras' detectors: idle threads sleep
            options.update(threads=threads, spin=False)
        self.engine = create_engine(engine, precision, device, **options)
        self.engine.warmup()
        # the decorator's settings, per replica, from the fleet file
        self.infer.set_max_batch_size(max_batch)
        self.infer.set_batch_wait_timeout_s(batch_wait_ms / 1000)

    def info(self):
        """The model's contract (classes, input size, crop): what every camera's cropper needs."""
        return self.engine.info

    def describe(self) -> dict:
        return {"engine": self.engine.describe(), "pid": os.getpid()}

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def infer(self, requests: list[np.ndarray]) -> list[tuple[np.ndarray, int, int]]:
        counts = [len(faces) for faces in requests]
        probs = self.engine.infer(np.ascontiguousarray(np.concatenate(requests)))
        rows = np.cumsum([0, *counts])
        return [(probs[rows[i]:rows[i + 1]], len(requests), int(rows[-1])) for i in range(len(requests))]


class FleetIngress:
    """HTTP on the Serve proxy: GET /rooms, GET /rooms/NAME (the room's mood), POST /rooms/NAME/playlist?tracks=N
    (the room's playlist, made here with the project's Spotify service and this process's Spotify settings).

    The live page's rules: on a loopback bind the Host must be a loopback name (no DNS rebinding); on any other bind
    every request carries the token (`Authorization: Bearer TOKEN`); a POST needs the X-Emotion-DJ: 1 header, which
    another site's page cannot send (anti-CSRF)."""

    def __init__(self, rooms, host: str, token: str | None):
        self.rooms = rooms  # the Rooms actor
        self.loopback = is_loopback(host)
        self.token = token

    def refusal(self, request) -> str | None:
        if self.loopback and (request.url.hostname or "").strip("[]") not in ("127.0.0.1", "localhost", "::1"):
            return "this fleet answers loopback names only"
        if self.token is not None:
            if not bearer_ok(request.headers.get("authorization", ""), self.token):
                return "missing or wrong token (Authorization: Bearer TOKEN; printed when the fleet started)"
        if request.method == "POST" and request.headers.get(CSRF_HEADER) != "1":
            return f"missing the {CSRF_HEADER}: 1 header"
        return None

    async def __call__(self, request):
        from starlette.responses import JSONResponse

        refused = self.refusal(request)
        if refused:
            return JSONResponse({"error": refused}, status_code=403)
        parts = [part for part in request.url.path.split("/") if part]
        if parts == ["rooms"] and request.method == "GET":
            return JSONResponse(await self.rooms.all.remote())
        if len(parts) >= 2 and parts[0] == "rooms":
            mood = await self.rooms.mood.remote(parts[1])
            if mood is None:
                return JSONResponse({"error": f"no room '{parts[1]}'"}, status_code=404)
            if len(parts) == 2 and request.method == "GET":
                return JSONResponse(mood)
            if parts[2:] == ["playlist"] and request.method == "POST":
                if mood["emotion"] is None:
                    return JSONResponse({"error": f"room '{parts[1]}' has no faces in view right now: no mood to play"},
                                        status_code=409)
                try:  # the project's one number parser: '²' passes isdigit() but is no number
                    tracks = number(int, 1, 100)(request.query_params.get("tracks", "20"))
                except argparse.ArgumentTypeError as error:
                    return JSONResponse({"error": f"tracks {error}"}, status_code=400)
                outcome = await asyncio.to_thread(make_playlist, mood, tracks, room=parts[1])
                return JSONResponse({"room": parts[1], "emotion": mood["emotion"], **outcome},
                                    status_code=200 if outcome["ok"] else 429 if outcome.get("dropped") else 502)
        return JSONResponse({"error": "not found: GET /rooms, GET /rooms/NAME, POST /rooms/NAME/playlist"}, status_code=404)


_pace = None  # one PlaylistPace per process, per room: made on first use (the setting is read then)


def make_playlist(mood: dict, tracks: int, public: bool = False, open_links: bool = False, notify=None,
                  room: str | None = None) -> dict:
    """A room mood (as the Rooms actor gives it) -> the existing playlist service's outcome, as a dict. A room's
    press within EMOTION_DJ_PLAYLIST_INTERVAL of its last playlist is dropped ("dropped": true), as P's is."""
    global _pace
    from emotion_dj.music.mood import MoodSnapshot, mood_by_name
    from emotion_dj.music.pace import PlaylistPace
    from emotion_dj.music.plane import MoodPoint
    from emotion_dj.music.service import PlaylistService
    from emotion_dj.music.spotify import MusicError, SpotifySettings

    try:
        _pace = _pace or PlaylistPace()
    except MusicError as error:
        return {"ok": False, "message": str(error), "url": None}
    if room is not None:
        wait = _pace.wait_left(room)
        if wait > 0:
            return {"ok": False, "message": f"room {room}: {_pace.line(wait)}", "url": None, "dropped": True}
    point = mood.get("point") or {}
    snap = MoodSnapshot(mood_by_name(mood["emotion"]), float(mood.get("confidence") or 1.0), mood.get("probs") or {},
                        None, MoodPoint(float(point.get("valence", 0.0)), float(point.get("arousal", 0.0))), int(mood.get("faces") or 0))
    try:
        service = PlaylistService(SpotifySettings.load(), tracks, public, open_links=open_links, notify=notify)
    except MusicError as error:
        return {"ok": False, "message": str(error), "url": None}
    outcome = service.create(snap)
    return {"ok": outcome.ok, "message": outcome.message, "url": outcome.url}


def model_deployment(settings):
    """The EmotionModel deployment for a fleet's [model] settings: a GPU per replica with device cuda, else CPU."""
    actor = {"num_gpus": 1} if settings.device == "cuda" else {"num_cpus": 0}
    return serve.deployment(EmotionModel, name="EmotionModel", num_replicas=settings.replicas,
                            max_ongoing_requests=max(64, settings.max_batch * 2), ray_actor_options=actor,
                            health_check_period_s=2, health_check_timeout_s=10, graceful_shutdown_timeout_s=2)


def ingress_deployment():
    return serve.deployment(FleetIngress, name="FleetIngress", num_replicas=1, ray_actor_options={"num_cpus": 0})
