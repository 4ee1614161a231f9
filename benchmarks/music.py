"""What the playlists are made of: the recommender against the fixed phrases it replaced, on one catalog.

    python -m benchmarks.music [--playlists 10] [--tracks 20] [--seed 7]

The catalog is the project's Spotify stand-in (tests/fake_catalog.py: 6,480 tracks by 360 artists in 24 genres,
each track with a hidden valence-arousal point). The app sees only what the 2026 API would show; the hidden
points are read here, to score. For every listener and every mood, `--playlists` playlists are made in a row, by
the recommender (emotion_dj.music, with a fresh store for each listener's run of one mood) and by the fixed phrases (three per
mood, first results first: what P did before), through the same spotipy client against the same stand-in.

Listeners: `narrow` (top artists in 4 of the 24 genres: jazz, soul, funk, r&b; scopes granted), `no-scopes` (the
same listener, but a login without user-top-read / user-read-recently-played: mood only), `new` (scopes granted,
nothing played yet). Scores, per playlist then averaged:
- fit: mean distance of the tracks' hidden points to the mood's point (plane units, lower is better);
- valence: mean hidden valence (happy's and sad's must lie at least 0.6 apart);
- taste: share of tracks by the listener's artists or in their genres;
- overlap: share of a playlist's tracks that the previous playlist of the same mood had;
- artists: distinct artists in a playlist; requests: API requests for one playlist.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from pathlib import Path

from benchmarks.machine import RESULTS, describe, save
from emotion_dj.music.mood import MOODS, for_mood
from emotion_dj.music.plane import MoodPoint
from emotion_dj.music.service import PlaylistService
from emotion_dj.music.spotify import BASE_SCOPES, PAGE_SIZE, SpotifySettings, connect
from emotion_dj.music.store import MusicStore
from tests.fake_catalog import Catalog
from tests.fake_spotify import FakeSpotify

# What P searched before this recommender: three fixed phrases per mood, round-robin, first results first.
FIXED_PHRASES = {
    "happy": ("feel good pop", "happy upbeat", "good vibes dance"),
    "surprise": ("euphoric electronic", "upbeat indie", "party anthems"),
    "neutral": ("chill lofi", "indie chill", "acoustic coffeehouse"),
    "sad": ("sad acoustic", "mellow indie", "comforting piano"),
    "angry": ("cathartic rock", "intense hip hop", "calm down chill"),
    "fear": ("calm ambient", "peaceful piano", "soothing acoustic"),
    "disgust": ("lofi beats", "feel good soul", "chill groove"),
    "contempt": ("smooth funk", "neo soul groove", "confident hip hop"),
}
LISTENERS = {"narrow": ("narrow", None), "no-scopes": ("narrow", BASE_SCOPES), "new": ("new", None)}


def fixed_phrase_playlist(client, phrases: tuple[str, ...], count: int, max_pages: int = 5) -> list[str]:
    """The old collect_tracks: round-robin over the phrases, one 10-result page at a time, unique songs."""
    uris, seen, exhausted = [], set(), set()
    for page in range(max_pages):
        for query in phrases:
            if len(uris) >= count:
                return uris
            if query in exhausted:
                continue
            items = ((client.search(q=query, type="track", limit=PAGE_SIZE, offset=page * PAGE_SIZE) or {}).get("tracks") or {}).get("items") or []
            if len(items) < PAGE_SIZE:
                exhausted.add(query)
            for track in items:
                key = (track["name"].lower(), track["artists"][0]["name"].lower())
                if track["uri"] not in uris and key not in seen:
                    seen.add(key)
                    uris.append(track["uri"])
                    if len(uris) >= count:
                        return uris
    return uris


def score(catalog: Catalog, listener: str, point: MoodPoint, uris: list[str], previous: list[str] | None) -> dict:
    tracks = [catalog.by_uri[u] for u in uris]
    return {
        "tracks": len(tracks),
        "fit": statistics.fmean(point.distance(MoodPoint(t.valence, t.arousal)) for t in tracks) if tracks else None,
        "valence": statistics.fmean(t.valence for t in tracks) if tracks else None,
        "taste": statistics.fmean(catalog.in_taste(u, listener) for u in uris) if uris and catalog.listeners[listener]["artists"] else None,
        "overlap": len(set(uris) & set(previous)) / len(uris) if previous and uris else None,
        "artists": len({t.artist for t in tracks}),
    }


def mean(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r[key] is not None]
    return round(statistics.fmean(values), 3) if values else None


def run(playlists: int, tracks: int, seed: int) -> dict:
    catalog = Catalog(seed=seed)
    fake = FakeSpotify()
    fake.catalog = catalog
    fake.start()
    results: dict = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            for name, (listener, scope) in LISTENERS.items():
                fake.listener = listener
                cache = Path(folder) / f"{name}-token.json"
                cache.write_text(json.dumps(fake.issue_token(scope) if scope else fake.issue_token()))
                settings = SpotifySettings("bench", None, "http://127.0.0.1:9/callback", cache, f"{fake.url}/v1/", fake.url)
                client = connect(settings, open_browser=False, scopes=BASE_SCOPES)  # the fixed phrases only search
                per_method = {"recommender": {}, "fixed phrases": {}}
                for emotion, mood in MOODS.items():
                    # each mood's run starts from an empty memory: ten in a row of one mood, not the whole day's moods
                    store = MusicStore(Path(folder) / f"{name}-{emotion}.sqlite3")
                    if scope:
                        store.set_meta("taste_scopes_asked", "0")  # the one ask happened: this login stays without them
                    service = PlaylistService(settings, tracks=tracks, open_links=False, store=store, rng=random.Random(seed))
                    point = for_mood(mood).point
                    for method in per_method:
                        rows, previous = [], None
                        for _ in range(playlists):
                            before = len(fake.calls)
                            if method == "recommender":
                                outcome = service.create(mood)
                                assert outcome.ok, f"{name} {emotion} playlist {len(rows) + 1}: {outcome.message}"
                                uris = fake.playlists[max(fake.playlists, key=lambda k: int(k[2:]))]["items"]
                            else:
                                uris = fixed_phrase_playlist(client, FIXED_PHRASES[emotion], tracks)
                            row = score(catalog, listener, point, uris, previous)
                            # the fixed phrases' /me, create and add are not made here: counted as the app made them
                            row["requests"] = len(fake.calls) - before + (3 if method == "fixed phrases" else 0)
                            rows.append(row)
                            previous = uris
                        per_method[method][emotion] = rows
                results[name] = per_method
    finally:
        fake.stop()
    return summarise(results)


def summarise(results: dict) -> dict:
    table = {}
    for listener, methods in results.items():
        for method, moods in methods.items():
            rows = [r for mood_rows in moods.values() for r in mood_rows]
            by_mood = {m: {k: mean(r, k) for k in ("fit", "valence", "taste", "overlap", "artists", "requests", "tracks")}
                       for m, r in moods.items()}
            table[f"{listener} / {method}"] = {
                "fit": mean(rows, "fit"), "taste": mean(rows, "taste"), "overlap": mean(rows, "overlap"),
                "overlap_max": round(max((r["overlap"] for r in rows if r["overlap"] is not None), default=0), 3),
                "artists": mean(rows, "artists"), "requests": mean(rows, "requests"),
                "requests_max": max(r["requests"] for r in rows), "tracks": mean(rows, "tracks"),
                "happy_minus_sad_valence": round(by_mood["happy"]["valence"] - by_mood["sad"]["valence"], 3),
                "by_mood": by_mood,
            }
    return table


def markdown(table: dict) -> str:
    lines = ["| listener / method | fit (lower is better) | taste share | overlap (mean / max) | distinct artists | "
             "requests (mean / max) | happy - sad valence |", "|---|---|---|---|---|---|---|"]
    for name, row in table.items():
        taste = "-" if row["taste"] is None else f"{row['taste'] * 100:.0f}%"
        lines.append(f"| {name} | {row['fit']:.3f} | {taste} | {row['overlap'] * 100:.0f}% / {row['overlap_max'] * 100:.0f}% | "
                     f"{row['artists']:.1f} | {row['requests']:.1f} / {row['requests_max']} | {row['happy_minus_sad_valence']:+.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--playlists", type=int, default=10, help="playlists in a row per mood and method")
    parser.add_argument("--tracks", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7, help="the catalog's and the recommender's seed")
    parser.add_argument("--out", type=Path, default=RESULTS / "music.json")
    args = parser.parse_args()
    table = run(args.playlists, args.tracks, args.seed)
    save({"machine": describe(), "playlists": args.playlists, "tracks": args.tracks, "seed": args.seed, "table": table},
         "music", args.out)
    print(markdown(table))


if __name__ == "__main__":
    main()
