"""Command line of run_edge.py. Every option falls back to an environment variable (shown in --help), and
every value, from either, is checked at start-up: a bad one ends in one line and exit 2."""
from __future__ import annotations

import argparse
import json
import os
import sys
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
from emotion_dj.music.follow import TARGETS
from emotion_dj.runtime.detectors import DETECTOR_NAMES
from emotion_dj.runtime.engines import DEVICES, ENGINE_NAMES, PRECISION_CHOICES
from emotion_dj.runtime.shutdown import STOP

DJ_TARGETS = tuple(TARGETS)


def env(name: str, default=None):
    return os.environ.get(name, default)


def env_flag(name: str) -> bool:
    return env(name, "").strip().lower() in ("1", "true", "yes", "on")


def detect_width(text: str) -> int:
    value = number(int, 0, 8192, "EMOTION_DJ_DETECT_WIDTH")(text)
    if 0 < value < 32:
        raise argparse.ArgumentTypeError(f"must be 0 (full size) or at least 32 pixels, got '{text}'")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(
        prog="run_edge.py",
        description="Emotion DJ edge runtime: faces -> expressions, live. Keys: P playlist, Q/Esc quit. "
                    "Subcommands: 'run_edge.py playlist --help', 'run_edge.py report --help', 'run_edge.py history --help', "
                    "'run_edge.py fleet --help'.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--source", default=env("EMOTION_DJ_SOURCE", "0"),
                   help="camera index, video file, image, RTSP/HTTP URL, or 'demo' [$EMOTION_DJ_SOURCE]")
    p.add_argument("--engine", default=env("EMOTION_DJ_ENGINE", "auto"), choices=ENGINE_NAMES,
                   help="inference engine; auto = the fastest that loads [$EMOTION_DJ_ENGINE]")
    p.add_argument("--precision", default=env("EMOTION_DJ_PRECISION", "auto"), choices=PRECISION_CHOICES,
                   help="model precision; auto = the fastest whose accuracy on the model card is within 0.5 points "
                        "of fp32 (int8 on a CPU, fp16 on a GPU) [$EMOTION_DJ_PRECISION]")
    p.add_argument("--device", default=env("EMOTION_DJ_DEVICE", "auto"), choices=DEVICES, help="[$EMOTION_DJ_DEVICE]")
    p.add_argument("--detector", default=env("EMOTION_DJ_DETECTOR", "auto"), choices=DETECTOR_NAMES,
                   help="face detector; auto = YuNet (shipped in weights/), else Haar [$EMOTION_DJ_DETECTOR]")
    p.add_argument("--model", type=Path, default=env("EMOTION_DJ_MODEL"),
                   help="an exported ONNX file (or .pt for --engine torch) instead of weights/ [$EMOTION_DJ_MODEL]")
    p.add_argument("--yunet-model", type=Path, default=env("YUNET_MODEL"),
                   help="another YuNet .onnx instead of the one shipped in weights/ [$YUNET_MODEL]")
    p.add_argument("--detect-width", type=detect_width, default=env("EMOTION_DJ_DETECT_WIDTH", "320"),
                   help="width frames are scaled to for detection (0: full size) [$EMOTION_DJ_DETECT_WIDTH]")
    p.add_argument("--detect-every", type=number(int, 1, 1000, "EMOTION_DJ_DETECT_EVERY"),
                   default=env("EMOTION_DJ_DETECT_EVERY", "1"),
                   help="detect every N frames and keep the boxes in between [$EMOTION_DJ_DETECT_EVERY]")
    p.add_argument("--ort-threads", type=number(int, 0, 256, "EMOTION_DJ_ORT_THREADS"),
                   default=env("EMOTION_DJ_ORT_THREADS"),
                   help="ONNX Runtime intra-op threads (default 1: detection runs beside it; 0: one per core) "
                        "[$EMOTION_DJ_ORT_THREADS]")
    p.add_argument("--stream-timeout", type=number(float, 0.5, 120, "EMOTION_DJ_STREAM_TIMEOUT"),
                   default=env("EMOTION_DJ_STREAM_TIMEOUT", "5"),
                   help="seconds to open a network stream, and the longest wait for a frame [$EMOTION_DJ_STREAM_TIMEOUT]")
    p.add_argument("--reconnect", type=number(int, 0, 1000, "EMOTION_DJ_RECONNECT"),
                   default=env("EMOTION_DJ_RECONNECT", "0"),
                   help="times to reopen a network stream that stalls or drops (0: a stalled stream is an error) "
                        "[$EMOTION_DJ_RECONNECT]")
    p.add_argument("--camera-retries", type=number(int, 0, 20, "EMOTION_DJ_CAMERA_RETRIES"),
                   default=env("EMOTION_DJ_CAMERA_RETRIES", "0"),
                   help="times to try again, waiting 1, 2, 4... s, to open a camera that is not there yet (the "
                        "container's default is 4) [$EMOTION_DJ_CAMERA_RETRIES]")
    p.add_argument("--no-mirror-alternate", action="store_true", default=env_flag("EMOTION_DJ_NO_MIRROR_ALTERNATE"),
                   help="do not mirror every other frame's face crops (by default the smoothing then averages both "
                        "views: +0.8 points on FER+ val at no cost) [$EMOTION_DJ_NO_MIRROR_ALTERNATE]")
    p.add_argument("--headless", action="store_true", default=env_flag("EMOTION_DJ_HEADLESS"),
                   help="no window (automatic without a display) [$EMOTION_DJ_HEADLESS]")
    p.add_argument("--record", type=Path, default=env("EMOTION_DJ_RECORD"),
                   help="write the annotated video here (.mp4/.avi) [$EMOTION_DJ_RECORD]")
    p.add_argument("--events", type=Path, default=env("EMOTION_DJ_EVENTS"),
                   help="write one JSON line per processed frame here [$EMOTION_DJ_EVENTS]")
    p.add_argument("--max-frames", type=number(int, 0, None, "EMOTION_DJ_MAX_FRAMES"),
                   default=env("EMOTION_DJ_MAX_FRAMES", "0"),
                   help="stop after N frames (0: until the source ends or Q) [$EMOTION_DJ_MAX_FRAMES]")
    p.add_argument("--tracks", type=number(int, 1, 100, "EMOTION_DJ_TRACKS"), default=env("EMOTION_DJ_TRACKS", "20"),
                   help="tracks per playlist made with P [$EMOTION_DJ_TRACKS]")
    p.add_argument("--public", action="store_true", default=env_flag("EMOTION_DJ_PUBLIC"),
                   help="make playlists public (default private) [$EMOTION_DJ_PUBLIC]")
    p.add_argument("--no-open", action="store_true", default=env_flag("EMOTION_DJ_NO_OPEN"),
                   help="do not open playlists in the browser/app [$EMOTION_DJ_NO_OPEN]")
    p.add_argument("--report", type=Path, default=env("EMOTION_DJ_REPORT"),
                   help="at exit, draw the mood report of --events here (.png/.svg/.html) [$EMOTION_DJ_REPORT]")
    p.add_argument("--summary-json", type=Path, help="also write the exit summary as JSON here")
    p.add_argument("--serve", default=env("EMOTION_DJ_SERVE"), metavar="[HOST:]PORT",
                   help="serve the live page (video, moods, playlist button, report) on PORT of 127.0.0.1, or of HOST "
                        "(then with a token: $EMOTION_DJ_SERVE_TOKEN or a random one, printed) [$EMOTION_DJ_SERVE]")
    p.add_argument("--serve-fps", type=number(float, 1, 60, "EMOTION_DJ_SERVE_FPS"), default=env("EMOTION_DJ_SERVE_FPS", "15"),
                   help="the most frames a second the page's video gets [$EMOTION_DJ_SERVE_FPS]")
    p.add_argument("--dj", action="store_true", default=env_flag("EMOTION_DJ_DJ"),
                   help="play by itself on your Spotify device, following the room's mood (Premium; docs/DJ.md) [$EMOTION_DJ_DJ]")
    p.add_argument("--dj-target", default=env("EMOTION_DJ_DJ_TARGET", "match"), choices=DJ_TARGETS,
                   help="match the room, or meet it and take it toward calm, energy or uplift [$EMOTION_DJ_DJ_TARGET]")
    p.add_argument("--dj-device", default=env("EMOTION_DJ_DJ_DEVICE"), metavar="NAME",
                   help="the Spotify Connect device to play on (default: the active one) [$EMOTION_DJ_DJ_DEVICE]")
    p.add_argument("--mqtt", default=env("EMOTION_DJ_MQTT"), metavar="mqtt[s]://[user@]host[:port]",
                   help="publish the room's mood and the DJ to Home Assistant over MQTT, with discovery and controls "
                        "(password: $EMOTION_DJ_MQTT_PASSWORD or $EMOTION_DJ_MQTT_PASSWORD_FILE; docs/HOME_ASSISTANT.md) "
                        "[$EMOTION_DJ_MQTT]")
    p.add_argument("--verbose", action="store_true", help="log what happens (and show tracebacks)")
    return p


def check_mqtt(url: str) -> str | None:
    """Why --mqtt cannot work (a bad URL or setting, no paho-mqtt), before anything slow; None when it can."""
    import importlib.util

    from emotion_dj.home.settings import MqttSettings
    from emotion_dj.runtime.shutdown import STOP

    try:
        MqttSettings.from_url(url, cancelled=STOP.is_set)  # a password pipe is read with a timeout Ctrl-C cuts short
    except UserError as error:
        return str(error)
    if importlib.util.find_spec("paho") is None:
        return '--mqtt needs paho-mqtt: pip install "emotion-dj[home]"'
    return None


def quiet_opencv(verbose: bool) -> None:
    # OpenCV and its FFmpeg backend print to stderr themselves; a user error must stay one line.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "32" if verbose else "-8")
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_INFO if verbose else cv2.utils.logging.LOG_LEVEL_SILENT)


def run(args: argparse.Namespace) -> int:
    from emotion_dj.runtime.app import App, RunConfig, build_parts

    config = RunConfig(source=args.source, engine=args.engine, precision=args.precision, device=args.device,
                       detector=args.detector, model=args.model, yunet_model=args.yunet_model,
                       detect_width=args.detect_width, detect_every=args.detect_every, ort_threads=args.ort_threads,
                       stream_timeout=args.stream_timeout, reconnect=args.reconnect,
                       camera_retries=args.camera_retries, headless=args.headless,
                       record=args.record, events=args.events, report=args.report, summary_json=args.summary_json,
                       max_frames=args.max_frames,
                       playlist_tracks=args.tracks, playlist_public=args.public, open_links=not args.no_open,
                       mirror_alternate=not args.no_mirror_alternate, serve=args.serve, serve_fps=args.serve_fps,
                       serve_token=env("EMOTION_DJ_SERVE_TOKEN"), dj=args.dj, dj_target=args.dj_target,
                       dj_device=args.dj_device, mqtt=args.mqtt)
    app = App(config, build_parts(config))
    summary = app.run()
    if app.stopped_during_start:  # the parts are closed; there is no run to sum up
        return fail(f"{STOP.reason} during start-up", EXIT_INTERRUPTED)
    # Every output is written before anything is printed: a reader that has gone (a closed pipe) loses nothing.
    if args.summary_json:
        try:
            args.summary_json.write_text(json.dumps(summary.to_dict(), indent=2))
        except OSError as error:
            return fail(f"cannot write the summary to {args.summary_json}: {error.strerror}")
    report_line = None
    if args.report and summary.events_lines and not summary.error:
        from emotion_dj.runtime.report import write_report

        write_report(args.events, args.report)
        report_line = f"  mood report: {args.report}"
    say(summary.format())
    if summary.error:
        return fail(summary.error, EXIT_RUNTIME_ERROR)
    if report_line:
        say(report_line)
    return EXIT_INTERRUPTED if STOP.asked_twice else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.report and not args.events:
        parser.error("--report draws the --events file: give --events too")
    if args.dj_target not in DJ_TARGETS:  # from $EMOTION_DJ_DJ_TARGET, which argparse does not check against choices
        parser.error(f"argument --dj-target: must be one of {', '.join(DJ_TARGETS)}, got '{args.dj_target}'")
    if args.dj:
        from emotion_dj.music.follow import FollowSettings
        from emotion_dj.music.spotify import MusicError

        try:
            FollowSettings.from_env()  # checked here, before anything slow, like every other setting
        except MusicError as error:
            parser.error(str(error))
    if args.mqtt and (problem := check_mqtt(args.mqtt)):
        parser.error(problem)
    setup_logging(args.verbose)
    quiet_opencv(args.verbose)
    if STOP.is_set():
        return fail(f"{STOP.reason} during start-up", EXIT_INTERRUPTED)
    return run_cli(lambda: run(args), verbose=args.verbose)
