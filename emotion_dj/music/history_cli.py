"""`emotion-dj history [--limit N] [--forget]`: what was played, for which mood, and why it was chosen."""
from __future__ import annotations

import time

from emotion_dj.core.cli import EXIT_OK, OneLineErrorParser, number, run_cli, say, setup_logging
from emotion_dj.music.spotify import clean
from emotion_dj.music.store import MusicStore, StoreError


def main(argv: list[str]) -> int:
    parser = OneLineErrorParser(prog="emotion-dj history", description=(
        "What Emotion DJ put in playlists and played, newest first: when, for which mood (the nearest expression and the "
        "valence/arousal point), and the search phrase that found each track. Kept in the data folder "
        "($EMOTION_DJ_DATA, default ~/.local/share/emotion-dj/music.sqlite3; docs/PRIVACY.md)."))
    parser.add_argument("--limit", type=number(int, 1, 100_000), default=50, help="how many tracks to list (default 50)")
    parser.add_argument("--forget", action="store_true", help="clear the history, the taste profile and what the DJ learned")
    parser.add_argument("--dj", action="store_true", help="what the DJ learned: which phrase choices worked, per mood region")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)

    def work() -> int:
        store = MusicStore()
        if args.forget:
            say(f"forgot {store.forget()} played track(s) and the taste profile ({store.path})")
            return EXIT_OK
        if args.dj:
            learned = store.dj_summary()
            if not learned:
                say(f"the DJ has not played anything yet ({store.path})")
            for region, arm, won, lost in learned:
                say(clean(f"{region:<18} {arm:<7} {won}/{won + lost} tracks worked ({won / (won + lost) * 100:.0f}%)", 200))
            return EXIT_OK
        plays = store.history(args.limit)
        if not plays:
            say(f"nothing played yet ({store.path})")
            return EXIT_OK
        for play in plays:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(play.played_at))
            # the store's text came from Spotify: no control character of it reaches the terminal
            say(clean(f"{when}  {play.mood:<8} (v {play.valence:+.2f}, a {play.arousal:+.2f})  {play.title} - "
                      f"{play.artist}  [{play.phrase}]", 400))
        return EXIT_OK
    return run_cli(work, verbose=args.verbose, user_errors=(StoreError,))
