"""`run_edge.py playlist --mood NAME [--tracks N] [--no-open] [--public]`: the P key, without a camera."""
from __future__ import annotations

import sys

from emotion_dj.core.cli import EXIT_OK, EXIT_RUNTIME_ERROR, OneLineErrorParser, fail, run_cli, say, setup_logging
from emotion_dj.music.mood import MOODS, mood_by_name
from emotion_dj.music.service import PlaylistService
from emotion_dj.music.spotify import MusicError, SpotifySettings


def main(argv: list[str]) -> int:
    parser = OneLineErrorParser(prog="run_edge.py playlist", description=(
        "Create a Spotify playlist for a mood (Spotify credentials: see README). Without credentials, "
        "opens Spotify's web search for the mood instead. Moods: " +
        ", ".join(f"{m.emotion} ({m.title})" for m in MOODS.values())))
    parser.add_argument("--mood", required=True, help="an emotion name or a mood title")
    parser.add_argument("--tracks", type=int, default=20, help="number of tracks")
    parser.add_argument("--public", action="store_true", help="make the playlist public (default: private)")
    parser.add_argument("--no-open", action="store_true", help="do not open the playlist in the browser/app")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if not 1 <= args.tracks <= 100:
        parser.error("--tracks must be between 1 and 100")

    def work() -> int:
        mood = mood_by_name(args.mood)
        settings = SpotifySettings.load()
        notify = lambda line: print(line, file=sys.stderr)  # noqa: E731 - e.g. "log in to Spotify in the browser..."
        outcome = PlaylistService(settings, args.tracks, args.public, open_links=not args.no_open, notify=notify).create(mood)
        if not outcome.ok:
            return fail(outcome.message, EXIT_RUNTIME_ERROR)
        say(outcome.message)
        return EXIT_OK
    return run_cli(work, verbose=args.verbose, user_errors=(ValueError, MusicError))
