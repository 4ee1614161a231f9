"""Mood evidence from real sources, measured: what each source brings alone and together, beside the recommender it
replaced, on a catalog stand-in that does not write the mood into titles.

    python -m benchmarks.music [--seeds 7 23] [--tracks 20]

Catalogs: tests/fake_catalog.py (6,480 tracks by 360 artists in 24 genres, each with a hidden valence-arousal
point; about 3% of titles carry a mood word; Last.fm tags on about a third of the tracks, their valence r about 0.4
with the hidden one). Seed 7 is the catalog the tests use; the other seeds, and a listener of other genres, are
catalogs nothing was tuned to. The app sees only what the APIs show; the hidden points are read here, to score.

Listener: top artists in 4 of the 24 genres (seed 7: jazz, soul, funk, r&b; the others: rock, indie, folk,
country), all near neutral valence. `narrow` has mood-named playlists (each track fits its name two times in
three) and plainly named ones; `plain` has the same taste and plainly named playlists only.

Set-ups (each in a fresh home: a new store, the day's pool built by its first playlist):
- no evidence: `plain`, no Last.fm key (genres and titles only);
- own playlists: `narrow`, no key;
- Last.fm: `plain`, with a key (the Last.fm stand-in on 127.0.0.1);
- both: `narrow`, with a key;
- room, 3 weeks: `plain`, no key, after 21 simulated days of DJ sessions (12 tracks a day, each chosen by the DJ's
  own choice for a room whose mood is drawn each day; the room's mood over each track moves halfway toward the
  track's hidden point, with noise of s.d. 0.25, and a track far from the room is skipped more often);
- 3 weeks of DJ, room evidence off: the same sessions, the room's evidence not read (the control: the DJ's plays
  also fill the variety window, which keeps its tracks out of the next 14 days' playlists);
- today's recommender: the recommender this replaced (search phrases, benchmarks/baseline/phrases.py), `narrow`, no key.

In each: 3 happy, 2 sad, 1 angry and 1 neutral playlist of 20 tracks (happy, sad, happy, angry, happy, sad,
neutral). Scores: the happy - sad mean valence gap, the angry - sad mean arousal ("energy") gap, the taste share
(tracks by the listener's artists or in their genres), overlap of consecutive playlists of one mood, sizes, Spotify
requests a playlist (the day's pool included, averaged over the seven), the most Last.fm requests in any second,
and whether a removed endpoint was called.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.baseline.phrases import recommend
from benchmarks.baseline.taste import current_taste
from benchmarks.machine import RESULTS, describe, save
from emotion_dj.music import bandit
from emotion_dj.music.choose import choose
from emotion_dj.music.evidence.room import RoomReactions
from emotion_dj.music.lastfm import LastfmSettings
from emotion_dj.music.library import SpotifyLibrary
from emotion_dj.music.mood import mood_by_name
from emotion_dj.music.plane import MoodPoint, class_point, nearest_class
from emotion_dj.music.playlists import evidence_sources, gather_evidence
from emotion_dj.music.pool import POOL_BUDGET, current_pool
from emotion_dj.music.recommend import RecommendSettings
from emotion_dj.music.service import PlaylistService
from emotion_dj.music.spotify import SpotifySettings, connect
from emotion_dj.music.store import DJOutcome, MusicStore, Play
from tests.fake_catalog import Catalog
from tests.fake_lastfm import KEY, FakeLastfm
from tests.fake_spotify import REMOVED, REMOVED_EXACT, REMOVED_SUFFIX, FakeSpotify

ROOM_ANNOTATE = RoomReactions.annotate
ORDER = ("happy", "sad", "happy", "angry", "happy", "sad", "neutral")
SETUPS = {  # name -> (listener, Last.fm on, days of DJ sessions first, method)
    "no evidence": ("plain", False, 0, "evidence"),
    "own playlists": ("narrow", False, 0, "evidence"),
    "Last.fm": ("plain", True, 0, "evidence"),
    "both": ("narrow", True, 0, "evidence"),
    "room, 3 weeks": ("plain", False, 21, "evidence"),
    "3 weeks of DJ, room evidence off": ("plain", False, 21, "no room"),
    "today's recommender": ("narrow", False, 0, "phrases"),
}
OTHER_GENRES = ("rock", "indie", "folk", "country")


def removed_called(fake: FakeSpotify) -> bool:
    return any(p.startswith(REMOVED) or p in REMOVED_EXACT or p.endswith(REMOVED_SUFFIX) for _, p in fake.calls)


def simulate_room(store: MusicStore, client, settings: SpotifySettings, catalog: Catalog, days: int, rng: random.Random) -> None:
    """`days` of DJ sessions, written to the store as the DJ writes them (plays and outcomes), ending now."""
    owner = client.me()["id"]
    sources = evidence_sources(store, None, owner, use_taste=True)
    pool = current_pool(SpotifyLibrary(client, POOL_BUDGET), store, [s for s in sources if s.name == "playlist"], lambda line: None)[0]
    moods = ("happy", "sad", "neutral", "angry", "surprise")
    start = time.time() - days * 86_400
    for day in range(days):
        room = class_point(rng.choice(moods))
        for k in range(12):
            when = start + day * 86_400 + k * 200
            recent = store.recent_uris(1.0, now=when)
            extra = gather_evidence(pool, sources, room, lambda line: None, [])
            arm = bandit.choose(store.arm_counts(bandit.region(room)), rng)
            (pick,) = choose(pool, extra, room, 1, recent, 0.3, 2, rng, arm=arm)
            truth = catalog.by_uri[pick.track.uri]
            during = MoodPoint(room.valence + 0.5 * (truth.valence - room.valence) + rng.gauss(0, 0.25),
                               room.arousal + 0.5 * (truth.arousal - room.arousal) + rng.gauss(0, 0.25))
            skipped = rng.random() < 0.05 + 0.2 * room.distance(MoodPoint(truth.valence, truth.arousal))
            store.record([Play(pick.track.uri, pick.track.name, pick.track.artist, pick.why, mood=nearest_class(room),
                               valence=room.valence, arousal=room.arousal, playlist="dj")], when=when)
            store.record_dj(DJOutcome(pick.track.uri, when, bandit.region(room), arm, pick.why, "match",
                                      (room.valence, room.arousal), (during.valence, during.arousal), skipped,
                                      bandit.success(room, during, None, skipped)))


def phrases_playlist(client, store: MusicStore, mood: str, tracks: int, rng: random.Random) -> list[str]:
    """Today's recommender (music/recommend.py), as P ran it before this change: its own 40-request budget."""
    library = SpotifyLibrary(client, 40)
    library.call(client.me)
    taste = current_taste(library, store)
    picks = recommend(library, _point(mood), taste, store.recent_uris(14),
                      RecommendSettings(tracks), rng, reserve=2)
    store.record([Play(p.track.uri, p.track.name, p.track.artist, p.phrase.query) for p in picks])
    return [p.track.uri for p in picks]


def _point(mood: str) -> MoodPoint:
    from emotion_dj.music.mood import for_mood

    return for_mood(mood_by_name(mood)).point


def run_setup(catalog: Catalog, name: str, tracks: int, seed: int, folder: Path) -> dict:
    listener, use_lastfm, days, method = SETUPS[name]
    fake = FakeSpotify()
    fake.catalog, fake.listener = catalog, listener
    fake.start()
    lastfm = FakeLastfm(catalog).start()
    try:
        home = folder / name.replace(" ", "-").replace(",", "").replace("'", "")
        home.mkdir()
        cache = home / "token.json"
        cache.write_text(json.dumps(fake.issue_token()))
        settings = SpotifySettings("bench", None, "http://127.0.0.1:9/callback", cache, f"{fake.url}/v1/", fake.url,
                                   lastfm=LastfmSettings(KEY, lastfm.url) if use_lastfm else None)
        store = MusicStore(home / "music.sqlite3")
        rng = random.Random(seed)
        client = connect(settings, open_browser=False)
        if days:
            simulate_room(store, client, settings, catalog, days, rng)
        service = PlaylistService(settings, tracks=tracks, open_links=False, store=store, rng=rng)
        if method == "no room":  # the control: the room's evidence is not read (restored below)
            RoomReactions.annotate = lambda self, candidates, target, say: {}
        made: dict[str, list[list[str]]] = {}
        requests, seconds = [], []
        for mood in ORDER:
            before, started = len(fake.calls), time.monotonic()
            if method == "phrases":  # (the control, "no room", makes its playlists as the app does)
                uris = phrases_playlist(client, store, mood, tracks, rng)
            else:
                outcome = service.create(mood_by_name(mood))
                assert outcome.ok, f"{name} {mood}: {outcome.message}"
                uris = fake.playlists[max(fake.playlists, key=lambda k: int(k[2:]))]["items"]
            requests.append(len(fake.calls) - before + (2 if method == "phrases" else 0))  # create and add, as P does
            seconds.append(time.monotonic() - started)
            made.setdefault(mood, []).append(uris)
    finally:
        RoomReactions.annotate = ROOM_ANNOTATE
        fake.stop()
        lastfm.stop()
    return score(catalog, listener, made, requests, seconds, lastfm.most_in_a_second(), len(lastfm.calls), removed_called(fake))


def score(catalog: Catalog, listener: str, made: dict, requests: list[int], seconds: list[float], lastfm_peak: int,
          lastfm_calls: int, removed: bool) -> dict:
    def mean(mood: str, key: str) -> float:
        return statistics.fmean(getattr(catalog.by_uri[u], key) for uris in made[mood] for u in uris)

    every = [u for lists in made.values() for uris in lists for u in uris]
    overlaps = [len(set(a) & set(b)) / len(b) for lists in made.values() for a, b in zip(lists, lists[1:]) if b]
    return {
        "happy_minus_sad_valence": round(mean("happy", "valence") - mean("sad", "valence"), 3),
        "angry_minus_sad_energy": round(mean("angry", "arousal") - mean("sad", "arousal"), 3),
        "taste": round(statistics.fmean(catalog.in_taste(u, listener) for u in every), 3),
        "overlap_max": round(max(overlaps, default=0.0), 3),
        "sizes": sorted({len(uris) for lists in made.values() for uris in lists}),
        "requests_mean": round(statistics.fmean(requests), 1), "requests_max": max(requests),
        "first_playlist_s": round(seconds[0], 1), "later_playlist_s_max": round(max(seconds[1:]), 1),
        "lastfm_requests": lastfm_calls, "lastfm_most_in_a_second": lastfm_peak, "removed_endpoint_called": removed,
    }


def markdown(results: dict) -> str:
    lines = ["| catalog | set-up | happy - sad valence | angry - sad energy | taste | overlap (max) | sizes | "
             "Spotify requests a playlist (mean / max) | first / later playlist s | Last.fm requests (most in 1 s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for catalog, rows in results.items():
        for name, r in rows.items():
            lines.append(f"| {catalog} | {name} | {r['happy_minus_sad_valence']:+.2f} | {r['angry_minus_sad_energy']:+.2f} | "
                         f"{r['taste'] * 100:.0f}% | {r['overlap_max'] * 100:.0f}% | {'/'.join(map(str, r['sizes']))} | "
                         f"{r['requests_mean']:.1f} / {r['requests_max']} | {r['first_playlist_s']:.1f} / "
                         f"{r['later_playlist_s_max']:.1f} | {r['lastfm_requests']} ({r['lastfm_most_in_a_second']}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 23], help="catalog seeds (7: the tests' catalog)")
    parser.add_argument("--tracks", type=int, default=20)
    parser.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument("--out", type=Path, default=RESULTS / "music.json")
    args = parser.parse_args()
    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:
            catalog = Catalog(seed=seed) if seed == 7 else Catalog(seed=seed, taste_genres=OTHER_GENRES)
            label = f"seed {seed} ({'jazz, soul, funk, r&b' if seed == 7 else ', '.join(OTHER_GENRES)})"
            results[label] = {}
            for name in args.setups:
                where = Path(folder) / f"{seed}"
                where.mkdir(exist_ok=True)
                results[label][name] = run_setup(catalog, name, args.tracks, seed, where)
                print(f"{label} / {name}: {results[label][name]}", flush=True)
    save({"machine": describe(), "tracks": args.tracks, "seeds": args.seeds, "results": results}, "music", args.out)
    print(markdown(results))


if __name__ == "__main__":
    main()
