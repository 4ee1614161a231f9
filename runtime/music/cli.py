"""`run_edge.py playlist --mood NAME [--tracks N] [--no-open] [--public]`: the P key, without a camera."""
from __future__ import annotations

import logging
import sys

from runtime.music.mood import MOODS, mood_by_name
from runtime.music.service import PlaylistService
from runtime.music.spotify import MusicError, SpotifySettings


def main(argv: list[str]) -> int:
    from runtime.cli import OneLineErrorParser

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
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not 1 <= args.tracks <= 100:
        parser.error("--tracks must be between 1 and 100")
    try:
        mood = mood_by_name(args.mood)
        settings = SpotifySettings.load()
    except (ValueError, MusicError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    outcome = PlaylistService(settings, args.tracks, args.public, open_links=not args.no_open).create(mood)
    if not outcome.ok:
        print(f"error: {outcome.message}", file=sys.stderr)
        return 1
    print(outcome.message)
    return 0
