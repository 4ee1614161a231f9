"""Command line of run_edge.py. Every option falls back to an environment variable (shown in --help)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from runtime.detectors import DETECTOR_NAMES
from runtime.engines import DEVICES, ENGINE_NAMES
from runtime.errors import UserError
from runtime.model_files import PRECISIONS

EXIT_OK, EXIT_RUNTIME_ERROR, EXIT_USER_ERROR = 0, 1, 2


def env(name: str, default=None):
    return os.environ.get(name, default)


def env_flag(name: str) -> bool:
    return env(name, "").strip().lower() in ("1", "true", "yes", "on")


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad option ends in one line (and exit 2) like every other user error."""

    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineErrorParser(
        prog="run_edge.py",
        description="Emotion DJ edge runtime: faces -> expressions, live. Keys: P playlist, Q/Esc quit. "
                    "Subcommand: 'run_edge.py playlist --help'.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--source", default=env("EMOTION_DJ_SOURCE", "0"),
                   help="camera index, video file, image, RTSP/HTTP URL, or 'demo' [$EMOTION_DJ_SOURCE]")
    p.add_argument("--engine", default=env("EMOTION_DJ_ENGINE", "auto"), choices=ENGINE_NAMES,
                   help="inference engine; auto = the fastest that loads [$EMOTION_DJ_ENGINE]")
    p.add_argument("--precision", default=env("EMOTION_DJ_PRECISION", "fp32"), choices=PRECISIONS,
                   help="model precision [$EMOTION_DJ_PRECISION]")
    p.add_argument("--device", default=env("EMOTION_DJ_DEVICE", "auto"), choices=DEVICES, help="[$EMOTION_DJ_DEVICE]")
    p.add_argument("--detector", default=env("EMOTION_DJ_DETECTOR", "auto"), choices=DETECTOR_NAMES,
                   help="face detector; auto = YuNet if its model can be had, else Haar [$EMOTION_DJ_DETECTOR]")
    p.add_argument("--model", type=Path, default=env("EMOTION_DJ_MODEL"),
                   help="an exported ONNX file (or .pt for --engine torch) instead of weights/ [$EMOTION_DJ_MODEL]")
    p.add_argument("--yunet-model", default=env("YUNET_MODEL"),
                   help="YuNet .onnx; default: user cache, downloaded once and sha256-checked [$YUNET_MODEL]")
    p.add_argument("--detect-width", type=int, default=int(env("EMOTION_DJ_DETECT_WIDTH", "320")),
                   help="width frames are scaled to for detection (0: full size) [$EMOTION_DJ_DETECT_WIDTH]")
    p.add_argument("--detect-every", type=int, default=int(env("EMOTION_DJ_DETECT_EVERY", "1")),
                   help="detect every N frames and keep the boxes in between [$EMOTION_DJ_DETECT_EVERY]")
    p.add_argument("--headless", action="store_true", default=env_flag("EMOTION_DJ_HEADLESS"),
                   help="no window (automatic without a display) [$EMOTION_DJ_HEADLESS]")
    p.add_argument("--record", type=Path, default=env("EMOTION_DJ_RECORD"),
                   help="write the annotated video here (.mp4/.avi) [$EMOTION_DJ_RECORD]")
    p.add_argument("--events", type=Path, default=env("EMOTION_DJ_EVENTS"),
                   help="write one JSON line per processed frame here [$EMOTION_DJ_EVENTS]")
    p.add_argument("--max-frames", type=int, default=int(env("EMOTION_DJ_MAX_FRAMES", "0")),
                   help="stop after N frames (0: until the source ends or Q) [$EMOTION_DJ_MAX_FRAMES]")
    p.add_argument("--tracks", type=int, default=int(env("EMOTION_DJ_TRACKS", "20")),
                   help="tracks per playlist made with P [$EMOTION_DJ_TRACKS]")
    p.add_argument("--public", action="store_true", default=env_flag("EMOTION_DJ_PUBLIC"),
                   help="make playlists public (default private) [$EMOTION_DJ_PUBLIC]")
    p.add_argument("--no-open", action="store_true", default=env_flag("EMOTION_DJ_NO_OPEN"),
                   help="do not open playlists in the browser/app [$EMOTION_DJ_NO_OPEN]")
    p.add_argument("--summary-json", type=Path, help="also write the exit summary as JSON here")
    p.add_argument("--verbose", action="store_true", help="log what happens (and show tracebacks)")
    return p


def setup_logging(verbose: bool) -> None:
    # OpenCV and its FFmpeg backend print to stderr themselves; a user error must stay one line.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "32" if verbose else "-8")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_INFO if verbose else cv2.utils.logging.LOG_LEVEL_SILENT)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "playlist":
        from runtime.music.cli import main as playlist_main

        return playlist_main(argv[1:])
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    from runtime.app import App, RunConfig, format_summary

    config = RunConfig(source=args.source, engine=args.engine, precision=args.precision, device=args.device,
                       detector=args.detector, model=args.model, yunet_model=args.yunet_model,
                       detect_width=args.detect_width, detect_every=args.detect_every, headless=args.headless,
                       record=args.record, events=args.events, max_frames=args.max_frames,
                       playlist_tracks=args.tracks, playlist_public=args.public, open_links=not args.no_open)
    try:
        summary = App(config).run()
    except UserError as error:
        if args.verbose:
            logging.getLogger("run_edge").exception("failed")
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    print(format_summary(summary))
    if args.summary_json:
        args.summary_json.write_text(json.dumps(summary, indent=2))
    if summary["error"]:
        print(f"error: {summary['error']}", file=sys.stderr)
        return EXIT_RUNTIME_ERROR
    return EXIT_OK
