"""Start a fleet on Ray, watch it, restart what fails, stop it cleanly, and sum it up.

    cameras (CameraWorker actors) --crops--> EmotionModel (Serve, @serve.batch, N replicas) --probs--> cameras
    cameras --face moods--> Rooms actor <-- FleetIngress (HTTP: /rooms, /rooms/NAME/playlist)

On one machine `ray.init()` starts a local Ray; `address` (or RAY_ADDRESS) joins a running cluster. A camera whose
run ends in an error (its source stalled or failed) or whose actor died is started again, up to its `restarts`,
going on after the last frame its events file holds; the others never notice. A model replica that dies is
replaced by Serve, and the cameras' calls in flight are retried (RemoteEngine), else counted as dropped.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import ray
from ray import serve

from emotion_dj.core.cli import say
from emotion_dj.core.errors import UserError
from emotion_dj.core.privacy import local_only_env, telemetry_allowed
from emotion_dj.fleet.camera import CameraWorker
from emotion_dj.fleet.config import FleetConfig
from emotion_dj.fleet.rooms import Rooms
from emotion_dj.fleet.service import ingress_deployment, model_deployment
from emotion_dj.fleet.summary import CameraRun, camera_summary
from emotion_dj.runtime.outputs import complete_frame_lines, wait_for_writer_gone
from emotion_dj.runtime.shutdown import SIGNALS, StopFlag
from emotion_dj.runtime.web.server import is_loopback

log = logging.getLogger(__name__)
NAMESPACE = "emotion_dj"
HOME_INTERVAL = 0.5  # seconds between the rooms' states to Home Assistant (only the changes are sent)
STOP_GRACE_S = 8.0  # how long cameras get to score what is in flight and flush their events when the fleet stops
DEAD_WRITER_WAIT_S = 10.0  # how long a dead camera's process may take to let go of its events file before it is counted


def cluster_answers(address: str, timeout: float = 5.0) -> None:
    """A cluster's head, asked before Ray is: Ray's own wait for one that is not there lasts minutes and prints its
    log lines. "auto" (a cluster started on this machine) is left to Ray, which answers at once."""
    if address == "auto":
        return
    client = address.startswith("ray://")
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not port.isdigit():  # no port: Ray's defaults (Ray Client 10001, the head's GCS 6379)
        host, port = address.removeprefix("ray://"), "10001" if client else "6379"
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError) as error:
        raise no_cluster(address, getattr(error, "strerror", None) or error) from None


def local_only_ray(address: str | None) -> dict:
    """Keep Ray on this machine (core/privacy.py, docs/PRIVACY.md); ray.init's extra arguments.

    A local Ray (no address) is one node on loopback, Serve's replicas included (fleet/loopback.py): with
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (despite its name, the switch for every OS) Ray takes 127.0.0.1 as the
    node's address instead of finding an outward one by connecting a socket towards 8.8.8.8, and its processes,
    which inherit it, listen there. Its API server is not
    started: without the dashboard it runs one module, the usage-stats reporter, which probes the cloud metadata
    addresses (169.254.169.254, metadata.google.internal) even with usage stats off (Ray 2.60,
    dashboard/modules/usage_stats/usage_stats_head.py). A cluster's workers get the telemetry switches through
    the job's runtime_env instead; how the cluster itself was started is its owner's.
    """
    if not address:
        from ray._private import ray_constants

        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # for the processes Ray starts
        ray_constants.ENABLE_RAY_CLUSTER = False  # for this one, which read the variable when it imported Ray
        if not telemetry_allowed():
            skip_usage_reporter()
        return {"runtime_env": {"worker_process_setup_hook": "emotion_dj.fleet.loopback.serve_replicas_on_loopback"}}
    env = local_only_env()
    env.pop("MPLCONFIGDIR", None)  # a path on this machine means nothing on the cluster's nodes
    return {"runtime_env": {"env_vars": env}} if env else {}


def skip_usage_reporter() -> None:
    """Ray starts its API server without the dashboard only to report usage: here it is not started at all."""
    from ray._private import services

    start = services.start_api_server
    if getattr(start, "skips_usage_reporter", False):
        return

    def start_api_server(include_dashboard, *args, **kwargs):
        if include_dashboard is False:
            return "", None  # Ray's own answer for "no API server" (its failure path returns None, None)
        return start(include_dashboard, *args, **kwargs)

    start_api_server.skips_usage_reporter = True
    services.start_api_server = start_api_server


def room_point_of(mood: dict | None):
    """A room's mood (Rooms.mood) -> its point on the mood plane; None when nobody is in view."""
    from emotion_dj.music.plane import MoodPoint

    point = (mood or {}).get("point")
    return MoodPoint(point["valence"], point["arousal"]) if point and mood.get("faces") else None


def free_loopback_port() -> int:
    """A port for Serve's proxy behind the front; Serve binds it itself a moment later."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_serve(start, **options) -> None:
    """`serve.start`, waiting once more for a slow HTTP proxy. Serve gives its proxy a fixed 60 s and then raises,
    though the controller it made keeps the proxy starting (seen on two busy cores under strace); the second call
    finds that controller and returns, and nothing here needs the proxy before a request comes."""
    try:
        start(**options)
    except TimeoutError:
        log.warning("Ray Serve's HTTP proxy is slow to start (over 60 s): going on while it does")
        start(**options)


def no_cluster(address: str, reason) -> UserError:
    return UserError(f"no Ray cluster answers at {address} ({reason}): start one (ray start --head) or leave out "
                     "--address and $RAY_ADDRESS for a local Ray")


class Fleet:
    def __init__(self, config: FleetConfig, events_dir: Path | None = None, max_frames: int = 0,
                 address: str | None = None, verbose: bool = False, mqtt: str | None = None):
        self.config, self.events_dir, self.max_frames = config, events_dir, max_frames
        self.mqtt = mqtt  # mqtt[s]://[user@]host[:port]: each room a Home Assistant device (fleet/home.py)
        self.home = None
        self.front = None  # the token-checking door on a network address (fleet/front.py)
        self._home_at = 0.0
        self.address, self.verbose = address, verbose
        self.cameras = {c.name: CameraRun(c) for c in config.cameras}
        self.model = self.rooms = None
        self.djs: dict = {}  # room -> its DJ (music/dj.py), for the rooms that have one
        self.model_description = ""
        self.started = 0.0
        # the HTTP ingress on a network address needs a token: EMOTION_DJ_FLEET_TOKEN, or a random one (printed)
        self.token = None if is_loopback(config.serve.host) else (
            os.environ.get("EMOTION_DJ_FLEET_TOKEN") or secrets.token_urlsafe(18))

    # -- start -----------------------------------------------------------------------------------
    def start(self) -> Fleet:
        with ray_chatter_hidden(self.verbose):
            return self._start()

    def _start(self) -> Fleet:
        self.started = time.perf_counter()
        address = self.address or os.environ.get("RAY_ADDRESS")
        # Ray's core installs its own SIGTERM handler (it kills the process at once); the app's own handlers (a
        # flag that the watch loop checks, so every camera flushes its events) are put back after it.
        handlers = {sig: signal.getsignal(sig) for sig in SIGNALS}
        # Serve kills an HTTP proxy that is not ready within 5 s; on a small, busy machine starting one takes longer
        # (seen with both cores busy: the fleet failed at start). Ray's processes inherit this from the driver.
        os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")
        if address:
            cluster_answers(address)
        try:
            ray.init(address=address, namespace=NAMESPACE, include_dashboard=False, log_to_driver=self.verbose,
                     logging_level=logging.INFO if self.verbose else logging.WARNING, configure_logging=self.verbose,
                     **local_only_ray(address))
        except ConnectionError as error:  # e.g. something else listens on that port
            if not address:
                raise
            raise no_cluster(address, error) from None
        if threading.current_thread() is threading.main_thread():
            for sig, handler in handlers.items():
                if handler is not None:
                    signal.signal(sig, handler)
        s, m = self.config.serve, self.config.model
        # On a network address Serve's proxy listens on loopback, behind the front (fleet/front.py), which checks the
        # token on every request: the proxy's own routes (/-/routes, /-/healthz) would otherwise answer anyone.
        proxy = (s.host, s.port) if self.token is None else ("127.0.0.1", free_loopback_port())
        start_serve(serve.start, http_options={"host": proxy[0], "port": proxy[1]}, logging_config={"log_level": "WARNING"})
        try:
            self.model = serve.run(model_deployment(m).bind(m.engine, m.precision, m.device, m.model, m.threads,
                                                            m.max_batch, m.batch_wait_ms),
                                   name="emotion-model", route_prefix=None)
        except RuntimeError as error:  # a replica could not start: Serve keeps why in the deployment's status
            raise UserError(f"the model service did not start: {deployment_failure('emotion-model') or error}") from None
        info = self.model.info.remote().result(timeout_s=120)
        self.model_description = self.model.describe.remote().result(timeout_s=60)["engine"]
        self.rooms = ray.remote(Rooms).options(name="rooms", num_cpus=0).remote(
            info.classes, {c.name: c.room for c in self.config.cameras})
        serve.run(ingress_deployment().bind(self.rooms, s.host, self.token), name="emotion-dj", route_prefix="/")
        if self.token is not None:
            from emotion_dj.fleet.front import FleetFront

            self.front = FleetFront(s.host, s.port, proxy[1], self.token).start()
        if self.events_dir:
            self.events_dir.mkdir(parents=True, exist_ok=True)
        for run in self.cameras.values():
            self._launch(run, resume=False)
        self._start_djs()
        if self.mqtt:
            from emotion_dj.fleet.home import FleetHome
            from emotion_dj.home.settings import MqttSettings

            self.home = FleetHome(MqttSettings.from_url(self.mqtt), list(self.config.rooms), self.djs,
                                  say=lambda line: say(f"MQTT: {line}")).start()
        return self

    def _start_djs(self) -> None:
        """A DJ per room that asks for one ([[room]] dj = true), in this process, all with the one store."""
        from emotion_dj.music.dj import DJ, DJSettings
        from emotion_dj.music.store import MusicStore

        store = MusicStore()
        for room in self.config.dj_rooms:
            def room_point(name=room.name):
                return room_point_of(ray.get(self.rooms.mood.remote(name), timeout=10))
            self.djs[room.name] = DJ(room_point, settings=DJSettings(target=room.target, device=room.device), store=store,
                                     say=lambda line, name=room.name: say(f"room {name} DJ: {line}")).start()

    @property
    def url(self) -> str:
        return f"http://{self.config.serve.host}:{self.config.serve.port}"

    def events_path(self, name: str) -> Path | None:
        return self.events_dir / f"{name}.jsonl" if self.events_dir else None

    def _launch(self, run: CameraRun, resume: bool) -> None:
        c = run.settings
        options = {"name": f"camera:{c.name}:{run.restarts}", "num_cpus": 0, "max_concurrency": 4, "max_restarts": 0}
        if c.node:  # a custom resource of the node the camera is attached to (ray start --resources)
            options["resources"] = {c.node: 0.001}
        events = self.events_path(c.name)
        run.actor = ray.remote(CameraWorker).options(**options).remote(
            c, self.config.model, self.model, self.rooms, str(events) if events else None, self.max_frames, resume)
        run.future = run.actor.run.remote()

    # -- watch -----------------------------------------------------------------------------------
    def supervise(self, stop: StopFlag, poll_s: float = 0.25) -> str:
        """Until every camera has ended (or been given up) or `stop` is set; returns why it ended."""
        while not stop.is_set():
            pending = [run.future for run in self.cameras.values() if not run.done]
            if not pending:
                return "every camera ended"
            ready, _ = ray.wait(pending, num_returns=1, timeout=poll_s)
            for future in ready:
                self._collect(next(run for run in self.cameras.values() if run.future == future))
            self._home_tick()
        return stop.reason

    def _home_tick(self) -> None:
        """The rooms' states to Home Assistant twice a second, and its controls' commands."""
        if self.home is None or time.monotonic() - self._home_at < HOME_INTERVAL:
            return
        self._home_at = time.monotonic()
        try:
            moods = ray.get(self.rooms.all.remote(), timeout=5)
        except (ray.exceptions.RayError, TimeoutError):
            return  # the next tick tries again; the cameras are watched meanwhile
        self.home.tick(moods)

    def _collect(self, run: CameraRun) -> None:
        """A camera's run has ended: keep its summary, and restart it if it failed and may be restarted."""
        try:
            summary = ray.get(run.future)
            reason = summary.get("error")
        except ray.exceptions.RayTaskError as error:  # a bug: run() raised; the actor is alive, so it is ended
            ray.kill(run.actor)
            cause = error.cause if getattr(error, "cause", None) is not None else error
            summary = {"camera": run.settings.name, "error": f"failed ({type(cause).__name__}: {str(cause).splitlines()[0][:200]})",
                       **self._dead_run_counts(run)}
            reason = summary["error"]
        except ray.exceptions.RayError as error:  # the actor died (killed, crashed, out of memory)
            summary = {"camera": run.settings.name, "error": f"actor died ({type(error).__name__})",
                       **self._dead_run_counts(run)}
            reason = summary["error"]
        run.runs.append(summary)
        if not reason:
            run.done = True
            return
        if run.restarts >= run.settings.restarts:
            run.done, run.gave_up = True, reason
            say(f"camera {run.settings.name}: {reason}; given up after {run.restarts} restart(s)")
            return
        run.restarts += 1
        say(f"camera {run.settings.name}: {reason}; restarting ({run.restarts} of {run.settings.restarts})")
        time.sleep(min(0.5 * run.restarts, 3.0))  # a source that fails at once is not hammered
        self._launch(run, resume=True)

    def _dead_run_counts(self, run: CameraRun) -> dict:
        """A dead actor cannot sum up its run: its frames are read back from its events file (the lines it got to
        disk; the next run goes on after the last of them)."""
        events = self.events_path(run.settings.name)
        if events is None:
            return {"frames_processed": 0}
        # Ray says an actor died (ray.kill, a lost node) before its process has gone, and that process may still
        # flush lines: its events file's lock says when it has let go (seen in CI: 101 frames counted, 107 on disk).
        if not wait_for_writer_gone(events, DEAD_WRITER_WAIT_S):
            log.warning("camera %s: its dead run still holds %s after %g s; counting the lines so far",
                        run.settings.name, events, DEAD_WRITER_WAIT_S)
        logged = sum(1 for _ in complete_frame_lines(events))
        counted = sum(r.get("events_lines") or 0 for r in run.runs)
        return {"frames_processed": logged - counted, "events_lines": logged - counted}

    # -- stop ------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask every running camera to stop, and give them STOP_GRACE_S to flush their events and report."""
        if self.home is not None:
            self.home.stop()  # says offline to Home Assistant; a silent broker never holds the stop
        for dj in self.djs.values():
            dj.stop(timeout=1.0)  # a request in flight is abandoned, not waited for
        running = [run for run in self.cameras.values() if not run.done]
        for run in running:
            run.actor.stop.remote()
        deadline = time.monotonic() + STOP_GRACE_S
        for run in running:
            try:
                run.runs.append(ray.get(run.future, timeout=max(0.1, deadline - time.monotonic())))
            except (ray.exceptions.RayError, TimeoutError) as error:
                run.runs.append({"camera": run.settings.name, "error": f"did not stop in time ({type(error).__name__})",
                                 "frames_processed": 0})
            run.done = True

    def shutdown(self) -> None:
        """Leave nothing behind: on a cluster that was joined, only this fleet's apps and actors go."""
        if self.front is not None:
            self.front.stop()
        with ray_chatter_hidden(self.verbose):
            if not ray.is_initialized():  # it never joined a cluster: nothing to leave
                return
            try:
                if self.address or os.environ.get("RAY_ADDRESS"):
                    for app in ("emotion-dj", "emotion-model"):
                        serve.delete(app)
                    for run in self.cameras.values():
                        if run.actor is not None:
                            ray.kill(run.actor)
                    if self.rooms is not None:
                        ray.kill(self.rooms)
            finally:
                ray.shutdown()

    # -- sum up ----------------------------------------------------------------------------------
    def summary(self, ended: str) -> dict:
        seconds = time.perf_counter() - self.started
        rooms = ray.get(self.rooms.all.remote(include_stale=True), timeout=10) if self.rooms else {}
        cameras = {name: camera_summary(run) for name, run in self.cameras.items()}
        faces = sum(c["faces_scored"] for c in cameras.values())
        m = self.config.model
        return {"ended": ended, "seconds": round(seconds, 2), "cameras": cameras, "rooms": rooms,
                "model": {"engine": self.model_description, "replicas": m.replicas, "max_batch": m.max_batch,
                          "batch_wait_ms": m.batch_wait_ms, "device": m.device},
                "faces_scored": faces, "frames_processed": sum(c["frames_processed"] for c in cameras.values()),
                "dropped_frames": sum(c["dropped_inference"] for c in cameras.values()),
                "restarts": sum(c["restarts"] for c in cameras.values()),
                "djs": {name: dj.state for name, dj in self.djs.items()}}

    def room_histories(self) -> dict[str, list]:
        return {room: ray.get(self.rooms.room_history.remote(room), timeout=10) for room in self.config.rooms}


def deployment_failure(app: str) -> str | None:
    """The last error line of a failed Serve application's deployments (a replica's constructor traceback)."""
    try:
        deployments = serve.status().applications[app].deployments.values()
    except (KeyError, AttributeError, ray.exceptions.RayError):
        return None
    for deployment in deployments:
        lines = [line.strip() for line in (deployment.message or "").splitlines() if re.match(r"^\s*[\w.]+(Error|Exception|Unavailable): ", line)]
        if lines:
            return lines[-1].split(": ", 1)[1] if ": " in lines[-1] else lines[-1]
    return None


@contextlib.contextmanager
def ray_chatter_hidden(verbose: bool):
    """Ray and Serve print their start-up and shutdown notes on stderr, some from C++. Unless --verbose, they go to
    a temporary file while Ray starts or stops, and are logged (at debug) only if that goes wrong."""
    if verbose:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as chatter:
        os.dup2(chatter.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            chatter.seek(0)
            log.debug("Ray's output:\n%s", chatter.read()[-20000:])
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
