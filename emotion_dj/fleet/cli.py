"""`run_edge.py fleet FLEET.toml` (many cameras on Ray) and `run_edge.py fleet playlist --room NAME`.

The fleet command needs the `fleet` extra (ray[serve]); it is imported only here, so the single-camera runtime
never loads Ray. `fleet playlist` needs no Ray: it asks the running fleet's HTTP ingress for the room's mood and
makes the playlist on this machine, with this user's Spotify login, exactly as `run_edge.py playlist` does.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from emotion_dj.core.cli import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUNTIME_ERROR,
    OneLineErrorParser,
    fail,
    number,
    run_cli,
    say,
    setup_logging,
)
from emotion_dj.core.errors import UserError
from emotion_dj.core.outputs import Output, guard_outputs
from emotion_dj.runtime.shutdown import STOP

DEFAULT_URL = "http://127.0.0.1:8008"


def build_parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(prog="run_edge.py fleet", description=(
        "Run many cameras on Ray: one actor per camera (the single app's frame path), one batched model service "
        "(Ray Serve) for all of them, one mood per room. 'run_edge.py fleet playlist --help' makes a room's playlist."))
    p.add_argument("fleet", type=Path, help="the fleet file (see examples/fleet.toml)")
    p.add_argument("--address", default=os.environ.get("RAY_ADDRESS"),
                   help="join this Ray cluster (default: start a local Ray) [$RAY_ADDRESS]")
    p.add_argument("--max-frames", type=number(int, 0, None), default=0, help="stop each camera after N frames (0: until its source ends)")
    p.add_argument("--events-dir", type=Path, help="write CAMERA.jsonl per camera (the single app's events) and a room report per room here")
    p.add_argument("--summary-json", type=Path, help="write the fleet's summary (per camera, per room) as JSON here")
    p.add_argument("--mqtt", default=os.environ.get("EMOTION_DJ_MQTT"), metavar="mqtt[s]://[user@]host[:port]",
                   help="each room as a Home Assistant device over MQTT: its mood, faces, playlist button and DJ controls "
                        "(docs/HOME_ASSISTANT.md) [$EMOTION_DJ_MQTT]")
    p.add_argument("--verbose", action="store_true", help="log what happens, Ray's own logs included")
    return p


def build_playlist_parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(prog="run_edge.py fleet playlist", description=(
        "Make a Spotify playlist for a room of a running fleet, from the room's current mood."))
    p.add_argument("--room", required=True, help="the room's name, as in the fleet file")
    p.add_argument("--url", default=os.environ.get("EMOTION_DJ_FLEET_URL", DEFAULT_URL),
                   help="the fleet's HTTP ingress ([serve] host and port of the fleet file) [$EMOTION_DJ_FLEET_URL]")
    p.add_argument("--tracks", type=number(int, 1, 100), default=20, help="number of tracks (1..100)")
    p.add_argument("--public", action="store_true", help="make the playlist public (default: private)")
    p.add_argument("--no-open", action="store_true", help="do not open the playlist in the browser/app")
    p.add_argument("--verbose", action="store_true")
    return p


def room_mood(url: str, room: str, timeout: float = 10.0) -> dict:
    address = f"{url.rstrip('/')}/rooms/{urllib.parse.quote(room, safe='')}"
    token = os.environ.get("EMOTION_DJ_FLEET_TOKEN")
    request = urllib.request.Request(address, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise UserError(f"the fleet at {url} has no room '{room}'") from None
        if error.code == 403:
            raise UserError(f"the fleet at {url} refused: {json.loads(error.read() or b'{}').get('error', 'forbidden')} "
                            "(a fleet on a network address needs $EMOTION_DJ_FLEET_TOKEN)") from None
        raise UserError(f"the fleet at {url} answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise UserError(f"no fleet answers at {url} ({reason}): is `run_edge.py fleet` running, with this [serve] port?") from None


def playlist_main(argv: list[str]) -> int:
    args = build_playlist_parser().parse_args(argv)
    setup_logging(args.verbose)

    def work() -> int:
        mood = room_mood(args.url, args.room)
        if not mood.get("emotion"):
            raise UserError(f"room '{args.room}' has no faces in view right now: no mood to play")
        from emotion_dj.fleet.service import make_playlist

        notify = lambda line: print(line, file=sys.stderr)  # noqa: E731 - e.g. "log in to Spotify in the browser..."
        say(f"room {args.room}: {mood['emotion']} {mood['confidence'] * 100:.0f}% from {mood['faces']} face(s) "
            f"-> '{mood['title']}'")
        outcome = make_playlist(mood, args.tracks, args.public, open_links=not args.no_open, notify=notify)
        if not outcome["ok"]:
            return fail(outcome["message"], EXIT_RUNTIME_ERROR)
        say(outcome["message"])
        return EXIT_OK
    return run_cli(work, verbose=args.verbose)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "playlist":
        STOP.uninstall()  # no loop checks the flag there: Ctrl-C must interrupt (one line, exit 130)
        return playlist_main(argv[1:])
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    return run_cli(lambda: run(args), verbose=args.verbose)


def port_free(host: str, port: int) -> None:
    """The ingress's port, checked before Ray starts: a taken one is one line, not a Serve proxy's traceback."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except socket.gaierror:
        raise UserError(f"[serve] host '{host}' is not an address of this machine (it does not resolve): use 127.0.0.1, "
                        "0.0.0.0 or one of this machine's addresses") from None
    except OSError as error:
        raise UserError(f"cannot serve the fleet on {host}:{port} ({error.strerror}): choose another [serve] port") from None


def run(args: argparse.Namespace) -> int:
    from emotion_dj.fleet.config import load_fleet

    config = load_fleet(args.fleet)
    if args.events_dir is not None and args.events_dir.exists() and not args.events_dir.is_dir():
        raise UserError(f"--events-dir {args.events_dir} is a file: give a folder (made if missing)")
    outputs = [Output("--summary-json", args.summary_json, "the summary")] if args.summary_json else []
    if args.events_dir:
        outputs += [Output("--events-dir", args.events_dir / f"{c.name}.jsonl", "events") for c in config.cameras]
        outputs += [Output("--events-dir", args.events_dir / f"room-{room}.json", "the room report") for room in config.rooms]
        args.events_dir.mkdir(parents=True, exist_ok=True)
    guard_outputs({"fleet file": args.fleet, **{f"camera {c.name}": c.source for c in config.cameras}}, outputs)
    port_free(config.serve.host, config.serve.port)
    if args.mqtt:
        from emotion_dj.runtime.cli import check_mqtt

        if problem := check_mqtt(args.mqtt):
            raise UserError(problem)
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("ray.serve") is None:
        raise UserError('the fleet needs Ray Serve: pip install "emotion-dj[fleet]"')
    if STOP.is_set():
        return fail(f"{STOP.reason} during start-up", EXIT_INTERRUPTED)

    from emotion_dj.fleet.room_report import write_room_report
    from emotion_dj.fleet.runner import Fleet
    from emotion_dj.fleet.summary import format_summary

    fleet = Fleet(config, args.events_dir, args.max_frames, args.address, args.verbose, mqtt=args.mqtt)
    try:
        fleet.start()
        say(f"Emotion DJ fleet: {len(config.cameras)} camera(s) in {len(config.rooms)} room(s); rooms at {fleet.url}/rooms"
            + (f"  (token: {fleet.token})" if fleet.token else ""))
        ended = fleet.supervise(STOP)
        fleet.stop()
        summary = fleet.summary(ended)
        histories = fleet.room_histories() if args.events_dir else {}
    finally:
        fleet.shutdown()
    # Every output is written before anything is printed (a closed stdout loses nothing).
    for room, history in histories.items():
        write_room_report(args.events_dir / f"room-{room}.json", room, summary["rooms"][room], history)
    if args.summary_json:
        args.summary_json.write_text(json.dumps(summary, indent=2))
    say(format_summary(summary))
    failed = [name for name, camera in summary["cameras"].items() if camera["gave_up"]]
    if failed:
        return fail(f"camera(s) given up: {', '.join(failed)}", EXIT_RUNTIME_ERROR)
    return EXIT_INTERRUPTED if STOP.asked_twice else EXIT_OK
