"""The DJ on scripted rooms, in simulated time, against the Spotify stand-in's player.

    python -m benchmarks.dj [--sessions 50] [--seed 7]

The stand-in (tests/fake_spotify.py with the 6,480-track catalog of tests/fake_catalog.py, the `narrow` listener)
plays 40-second tracks on the DJ's clock, so half an hour of a room takes seconds. The DJ is the app's own
(emotion_dj.music.dj, default settings: 20 s smoothing, a 0.35 threshold held 20 s, one track queued ahead).

Rooms, 30 minutes each:
- steady: happy throughout;
- sustained change: happy, then sad from minute 10;
- flickers: happy, with 4 seconds of anger every 30 seconds;
- empty: happy for 5 minutes, then nobody (the DJ drifts to calm after 5 more).

Reported: direction changes per hour; the time from the sustained change to the first track chosen for the new
mood beginning; the mood fit of what played (mean distance of each track's hidden point to the mood it should fit
when it began: the room's, not a flicker's; calm once the empty room has drifted). Then the learning: a simulated
room that answers to the listener's own playlists (70% of tracks move it toward the target), less to Last.fm or its own (45%)
and little to titles and genres (20%), over `--sessions` sessions of 10 tracks with one store, the DJ's Thompson
sampling against uniformly random choice.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from pathlib import Path

from benchmarks.machine import RESULTS, describe, save
from emotion_dj.music import bandit
from emotion_dj.music.dj import DJ, DJSettings
from emotion_dj.music.follow import CALM
from emotion_dj.music.plane import MoodPoint, class_point
from emotion_dj.music.spotify import SpotifySettings
from emotion_dj.music.store import MusicStore
from tests.fake_catalog import Catalog
from tests.fake_spotify import FakeSpotify

HAPPY, SAD, ANGRY = class_point("happy"), class_point("sad"), class_point("angry")
ROOMS = {  # name -> (what the camera sees at second t, the mood the music should fit then)
    "steady": (lambda t: HAPPY, lambda t: HAPPY),
    "sustained change": (lambda t: HAPPY if t < 600 else SAD, lambda t: HAPPY if t < 600 else SAD),
    "flickers": (lambda t: ANGRY if t % 30 < 4 and t > 5 else HAPPY, lambda t: HAPPY),
    "empty": (lambda t: HAPPY if t < 300 else None, lambda t: HAPPY if t < 600 else CALM),  # calm 5 min after the last face
}
LIKES = {"playlist": 0.70, "lastfm": 0.45, "room": 0.45, "text": 0.20}
TRACK_S = 40.0


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def stage(folder: Path, catalog: Catalog, name: str):
    fake = FakeSpotify()
    fake.catalog, fake.track_seconds, fake.clock = catalog, TRACK_S, Clock()
    fake.start()
    cache = folder / f"{name}-token.json"
    cache.write_text(json.dumps(fake.issue_token()))
    return fake, SpotifySettings("bench", None, "http://127.0.0.1:9/callback", cache, f"{fake.url}/v1/", fake.url)


def run_room(folder: Path, catalog: Catalog, name: str, room, fits_mood, seed: int, minutes: float = 30) -> dict:
    fake, spotify = stage(folder, catalog, name)
    clock = fake.clock
    try:
        dj = DJ(lambda: room(clock.now), spotify, DJSettings(), MusicStore(folder / f"{name}.sqlite3"), random.Random(seed),
                clock, clock.sleep, say=lambda line: None)
        aims: dict[str, MoodPoint] = {}
        while clock.now < minutes * 60:
            dj.tick(clock.now)
            for pick, aim in ([(dj.playing.pick, dj.playing.intended)] if dj.playing else []) + dj.ahead:
                aims.setdefault(pick.track.uri, aim)
            clock.now += 1.0
        fits = []
        for when, uri in fake.played:
            hidden = catalog.by_uri[uri]
            fits.append(fits_mood(when).distance(MoodPoint(hidden.valence, hidden.arousal)))
        result = {"turns_per_hour": round(dj.follower.turns / (minutes / 60), 2), "tracks": len(fake.played),
                  "fit": round(statistics.fmean(fits), 3) if fits else None, "player_writes": len(fake.player_writes)}
        if name == "sustained change":
            new = [when for when, uri in fake.played if when >= 600 and aims.get(uri) and aims[uri].distance(SAD) < 0.5]
            result["seconds_to_new_mood"] = round(new[0] - 600, 1) if new else None
        return result
    finally:
        fake.stop()


class ReactingRoom:
    """A sad room that takes each track once, as the phrase family that found it deserves (LIKES)."""

    def __init__(self, answer: random.Random):
        self.answer, self.dj, self.reaction = answer, None, {}

    def __call__(self) -> MoodPoint:
        playing = self.dj.playing
        if playing is None:
            return SAD
        key = playing.pick.track.uri
        if key not in self.reaction:
            works = self.answer.random() < LIKES[playing.pick.arm]
            self.reaction[key] = playing.before.toward(class_point("neutral"), 0.3) if works else \
                MoodPoint(playing.before.valence - 0.2, playing.before.arousal)
        return self.reaction[key]


def learning(folder: Path, catalog: Catalog, sessions: int, seed: int, random_choice: bool) -> list[float]:
    """Each session: 10 tracks in a sad room with the target calm; the room moves when the phrase family works."""
    fake, spotify = stage(folder, catalog, f"learn-{random_choice}")
    clock = fake.clock
    store = MusicStore(folder / f"learn-{random_choice}.sqlite3")
    answer = random.Random(seed + 1)
    chosen = bandit.choose
    if random_choice:
        bandit.choose = lambda counts, rng, arms=bandit.ARMS: rng.choice(arms)
    per_session = []
    try:
        for session in range(sessions):
            room = ReactingRoom(answer)
            dj = room.dj = DJ(room, spotify, DJSettings(target="calm"), store, random.Random(seed + session), clock,
                              clock.sleep, say=lambda line: None)
            before = sum(s for _, _, s, _ in store.dj_summary()), sum(s + f for _, _, s, f in store.dj_summary())
            end = clock.now + 10 * TRACK_S + 5
            while clock.now < end:
                dj.tick(clock.now)
                clock.now += 1.0
            dj.stop()
            after = sum(s for _, _, s, _ in store.dj_summary()), sum(s + f for _, _, s, f in store.dj_summary())
            played = after[1] - before[1]
            per_session.append((after[0] - before[0]) / played if played else 0.0)
            fake.current, fake.queue = None, []  # the next session starts on a silent speaker
    finally:
        bandit.choose = chosen
        fake.stop()
    return per_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS / "dj.json")
    args = parser.parse_args()
    catalog = Catalog(seed=args.seed)
    with tempfile.TemporaryDirectory() as folder:
        rooms = {name: run_room(Path(folder), catalog, name, seen, fits, args.seed) for name, (seen, fits) in ROOMS.items()}
        learned = learning(Path(folder), catalog, args.sessions, args.seed, random_choice=False)
        uniform = learning(Path(folder), catalog, args.sessions, args.seed, random_choice=True)
    tail = max(1, args.sessions // 5)
    summary = {"rooms": rooms, "learning": {
        "bandit_by_session": [round(x, 3) for x in learned], "random_by_session": [round(x, 3) for x in uniform],
        "bandit_mean": round(statistics.fmean(learned), 3), "random_mean": round(statistics.fmean(uniform), 3),
        f"bandit_last_{tail}": round(statistics.fmean(learned[-tail:]), 3),
        f"random_last_{tail}": round(statistics.fmean(uniform[-tail:]), 3)}}
    save({"machine": describe(), "sessions": args.sessions, "seed": args.seed, **summary}, "dj", args.out)
    print("| room | direction changes / hour | seconds to the new mood | fit | tracks | player writes |")
    print("|---|---|---|---|---|---|")
    for name, r in rooms.items():
        print(f"| {name} | {r['turns_per_hour']} | {r.get('seconds_to_new_mood', '-')} | {r['fit']} | {r['tracks']} | {r['player_writes']} |")
    lr = summary["learning"]
    print(f"\nreward per session: bandit {lr['bandit_mean']} (last {tail}: {lr[f'bandit_last_{tail}']}), "
          f"random {lr['random_mean']} (last {tail}: {lr[f'random_last_{tail}']})")


if __name__ == "__main__":
    main()
