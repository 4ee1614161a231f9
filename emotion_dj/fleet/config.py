"""FLEET.toml: the cameras (source, room, optional node) and the shared model service. Read and checked here,
without Ray, so a bad file fails in one line before anything starts.

    [model]                  # one batched model service for every camera
    engine = "onnx"          # auto | trt | onnx | torch, as for run_edge.py
    precision = "auto"
    device = "cpu"           # cpu | cuda | auto; cuda: one replica per GPU
    replicas = 1
    max_batch = 32           # requests (one per camera frame) gathered into one engine call
    batch_wait_ms = 2        # how long a replica waits to fill a batch
    threads = 2              # ONNX Runtime threads per replica
    in_flight = 32           # frames each camera keeps on their way to the model

    [serve]
    host = "127.0.0.1"
    port = 8008              # the HTTP ingress: /rooms, /rooms/NAME, POST /rooms/NAME/playlist

    [camera_defaults]        # any camera key, for every camera that does not set it
    detector = "auto"

    [[camera]]
    name = "bar-door"
    source = "demo"          # as --source; relative paths are relative to this file
    room = "bar"
    node = "bar-pi"          # optional: a custom resource of the Ray node that has this camera
    loop = false             # a file or the demo played round (a clip standing in for a camera)

    [[room]]                 # optional: a room's own settings
    name = "bar"
    dj = true                # the room's face-weighted mood drives a DJ (docs/DJ.md), on this speaker:
    device = "Bar speaker"   # a Spotify Connect device's name (default: the active one)
    target = "match"         # match | calm | energize | uplift
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import tomllib

from emotion_dj.core.errors import UserError
from emotion_dj.core.redact import redact
from emotion_dj.home.settings import device_id
from emotion_dj.runtime.detectors import DETECTOR_NAMES
from emotion_dj.runtime.engines import DEVICES, ENGINE_NAMES, PRECISION_CHOICES
from emotion_dj.runtime.sources import source_kind

MAX_CAMERAS = 64  # one Ray actor and one events file each; a bigger venue runs more than one fleet
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # camera and room names become file names and URL parts


class FleetConfigError(UserError):
    """A FLEET.toml that cannot run; the message names the file and the key."""


@dataclass(frozen=True)
class ModelSettings:
    engine: str = "auto"
    precision: str = "auto"
    device: str = "cpu"
    model: str | None = None  # an explicit model file instead of the shipped weights
    replicas: int = 1
    max_batch: int = 32
    batch_wait_ms: float = 2.0
    threads: int = 1
    # frames a camera keeps on their way to the model (answers taken in order): the more, the more frames share a
    # call on a busy model (throughput), and the later each answer (latency); benchmarks/fleet.py measures both
    in_flight: int = 32
    retries: int = 3  # attempts after the first for a frame whose replica failed, before it is counted as dropped
    timeout_s: float = 10.0  # the longest wait for one attempt


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8008


@dataclass(frozen=True)
class CameraSettings:
    name: str
    source: str
    room: str
    node: str | None = None
    loop: bool = False  # play a file or the demo round and round (a clip standing in for a camera)
    detector: str = "auto"
    detect_width: int = 320
    detect_every: int = 1
    mirror_alternate: bool = True
    restarts: int = 3  # times a camera whose source stalls or dies is restarted before it is given up
    stream_timeout: float = 5.0
    reconnect: int = 0


@dataclass(frozen=True)
class RoomSettings:
    name: str
    dj: bool = False
    device: str | None = None
    target: str = "match"


@dataclass(frozen=True)
class FleetConfig:
    path: Path
    model: ModelSettings
    serve: ServeSettings
    cameras: tuple[CameraSettings, ...] = field(default_factory=tuple)
    room_settings: tuple[RoomSettings, ...] = field(default_factory=tuple)  # only the rooms a [[room]] table names

    @property
    def dj_rooms(self) -> tuple[RoomSettings, ...]:
        return tuple(r for r in self.room_settings if r.dj)

    @property
    def rooms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(camera.room for camera in self.cameras))


def _typed(cls, table: dict, where: str, path: Path):
    """`cls(**table)` with each value checked against the field's type; unknown keys are errors, never dropped."""
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in table.items():
        if key not in known:
            raise FleetConfigError(f"{path}: unknown key '{key}' in {where} (known: {', '.join(known)})")
        kind = str(known[key].type)
        ok = (isinstance(value, bool) if kind == "bool" else
              isinstance(value, int) and not isinstance(value, bool) if kind == "int" else
              isinstance(value, (int, float)) and not isinstance(value, bool) if kind == "float" else
              isinstance(value, str))
        if not ok:
            raise FleetConfigError(f"{path}: {where}.{key} must be {kind.replace(' | None', '')}, got {value!r}")
        values[key] = float(value) if kind == "float" else value
    try:
        return cls(**values)
    except TypeError as error:  # a missing required key
        missing = str(error).split(":")[-1].strip()
        raise FleetConfigError(f"{path}: {where} needs {missing}") from None


def _check(condition: bool, path: Path, message: str) -> None:
    if not condition:
        raise FleetConfigError(f"{path}: {message}")


def load_fleet(path: Path) -> FleetConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise FleetConfigError(f"fleet file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise FleetConfigError(f"cannot read {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise FleetConfigError(f"{path}: not valid TOML ({error})") from None
    unknown = set(data) - {"model", "serve", "camera_defaults", "camera", "room"}
    _check(not unknown, path, f"unknown table(s) {', '.join(sorted(unknown))} (known: model, serve, camera_defaults, camera, room)")
    model = _typed(ModelSettings, data.get("model", {}), "[model]", path)
    _check(model.engine in ENGINE_NAMES, path, f"[model].engine '{model.engine}': choose from {', '.join(ENGINE_NAMES)}")
    _check(model.precision in PRECISION_CHOICES, path,
           f"[model].precision '{model.precision}': choose from {', '.join(PRECISION_CHOICES)}")
    _check(model.device in DEVICES, path, f"[model].device '{model.device}': choose from {', '.join(DEVICES)}")
    _check(1 <= model.replicas <= 64, path, "[model].replicas must be 1..64")
    _check(1 <= model.max_batch <= 1024, path, "[model].max_batch must be 1..1024")
    _check(0 <= model.batch_wait_ms <= 1000, path, "[model].batch_wait_ms must be 0..1000")
    _check(0 <= model.threads <= 256, path, "[model].threads must be 0..256 (0: one per core)")
    _check(1 <= model.in_flight <= 64, path, "[model].in_flight must be 1..64")
    _check(0 <= model.retries <= 20 and 0.1 <= model.timeout_s <= 600, path,
           "[model].retries must be 0..20 and [model].timeout_s 0.1..600")
    if model.model is not None:
        model = ModelSettings(**{**model.__dict__, "model": str(_relative(model.model, path))})
    serve = _typed(ServeSettings, data.get("serve", {}), "[serve]", path)
    _check(1 <= serve.port <= 65535, path, "[serve].port must be 1..65535")

    defaults = data.get("camera_defaults", {})
    _check(isinstance(defaults, dict), path, "[camera_defaults] must be a table")
    tables = data.get("camera", [])
    _check(isinstance(tables, list) and tables, path, "no cameras: add at least one [[camera]] with name, source and room")
    _check(len(tables) <= MAX_CAMERAS, path, f"{len(tables)} cameras: a fleet takes at most {MAX_CAMERAS}")
    cameras = []
    for number, table in enumerate(tables, 1):
        _check(isinstance(table, dict), path, f"camera {number} must be a table ([[camera]])")
        camera = _typed(CameraSettings, {**defaults, **table}, f"[[camera]] {number}", path)
        for key in ("name", "room"):
            _check(bool(NAME.match(getattr(camera, key))), path,
                   f"camera {number}: {key} '{getattr(camera, key)}' must be 1-64 letters, digits, '.', '_' or '-'")
        _check(camera.detector in DETECTOR_NAMES, path,
               f"camera {camera.name}: detector '{camera.detector}': choose from {', '.join(DETECTOR_NAMES)}")
        # the single app's ranges for the same flags (runtime/cli.py); a range also refuses nan and inf
        _check(0 <= camera.restarts <= 100, path, f"camera {camera.name}: restarts must be 0..100")
        _check(1 <= camera.detect_every <= 1000, path, f"camera {camera.name}: detect_every must be 1..1000")
        _check(camera.detect_width == 0 or 32 <= camera.detect_width <= 8192, path,
               f"camera {camera.name}: detect_width must be 0 (full size) or 32..8192")
        _check(0.5 <= camera.stream_timeout <= 120, path, f"camera {camera.name}: stream_timeout must be 0.5..120 seconds")
        _check(0 <= camera.reconnect <= 1000, path, f"camera {camera.name}: reconnect must be 0..1000")
        source = camera.source.strip()
        try:
            kind = source_kind(source)
        except UserError as error:
            raise FleetConfigError(f"{path}: camera {camera.name}: {error}") from None
        if kind in ("video", "image"):
            source = str(_relative(source, path))
            _check_file(source, kind, camera.name, path)
        cameras.append(CameraSettings(**{**camera.__dict__, "source": source}))
    names = [camera.name for camera in cameras]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    _check(not duplicates, path, f"camera names must be unique: {', '.join(duplicates)}")
    _check_room_ids({camera.room for camera in cameras}, path)
    return FleetConfig(path, model, serve, tuple(cameras), _rooms(data.get("room", []), {c.room for c in cameras}, path))


def _check_room_ids(rooms: set[str], path: Path) -> None:
    """Rooms whose Home Assistant device ids (and topics) would be the same ('Bar' and 'bar', 'a.b' and 'a_b')."""
    seen: dict[str, str] = {}
    for room in sorted(rooms):
        same = seen.setdefault(device_id(room), room)
        _check(same == room, path, f"rooms '{same}' and '{room}' would be one Home Assistant device ({device_id(room)}) "
                                   "and share its topics: give them names that differ in more than case, '.', '-' or '_'")


def _rooms(tables, known: set[str], path: Path) -> tuple[RoomSettings, ...]:
    from emotion_dj.music.follow import TARGETS

    _check(isinstance(tables, list), path, "[[room]] must be an array of tables")
    rooms = []
    for number, table in enumerate(tables, 1):
        _check(isinstance(table, dict), path, f"room {number} must be a table ([[room]])")
        room = _typed(RoomSettings, table, f"[[room]] {number}", path)
        _check(room.name in known, path, f"[[room]] {number}: no camera is in room '{room.name}' (rooms: {', '.join(sorted(known))})")
        _check(room.target in TARGETS, path, f"room {room.name}: target '{room.target}': choose from {', '.join(TARGETS)}")
        rooms.append(room)
    names = [r.name for r in rooms]
    _check(len(set(names)) == len(names), path, "each room may have one [[room]] table")
    return tuple(rooms)


def _check_file(source: str, kind: str, camera: str, path: Path) -> None:
    """What the single app finds at once when it opens a file, found here before Ray starts: not there, a folder,
    empty, unreadable."""
    file = Path(source)
    problem = ("not found" if not file.exists() else "is a folder, not a file" if file.is_dir() else
               "is empty" if file.stat().st_size == 0 else None)
    if problem is None:
        try:
            with open(file, "rb") as opened:
                opened.read(1)
        except OSError as error:
            problem = f"cannot be read ({error.strerror})"
    _check(problem is None, path, f"camera {camera}: {kind} {redact(source)} {problem}")


def _relative(text: str, config_path: Path) -> Path:
    candidate = Path(text).expanduser()
    return candidate if candidate.is_absolute() else (config_path.parent / candidate).resolve()
