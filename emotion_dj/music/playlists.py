"""One playlist: the day's pool, the evidence, the choice, the playlist on Spotify, the memory.

At most REQUEST_BUDGET Spotify requests for the playlist itself: the login check, any evidence gathered for it, a
top-up search when the pool runs short, the creation and the additions. The day's pool (music/pool.py) has its
own budget, spent once a day. Last.fm (opt-in) is asked for the tags of the most promising candidates, within its
own time budget (music/evidence/lastfm.py). The tracks are written to the store in one transaction once Spotify has
them, so a crash loses at most the playlist being made. A store that cannot be used (a full disk, a read-only file
system, a lock) does not stop the playlist: it is made without the variety window or the kept pool, and
`unrecorded` says why it is not in the history.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from emotion_dj.music.choose import Choice, choose, estimates, expected_distance, thin
from emotion_dj.music.evidence import Candidate, Evidence, EvidenceSource
from emotion_dj.music.evidence.lastfm import LastfmTags
from emotion_dj.music.evidence.playlists import OwnPlaylists
from emotion_dj.music.evidence.room import RoomReactions
from emotion_dj.music.evidence.text import TextEvidence
from emotion_dj.music.lastfm import Lastfm
from emotion_dj.music.library import BudgetSpent, SpotifyLibrary
from emotion_dj.music.mood import MoodSnapshot
from emotion_dj.music.plane import MoodPoint, nearest_class
from emotion_dj.music.pool import POOL_BUDGET, build_pool, current_pool
from emotion_dj.music.recommend import RecommendSettings
from emotion_dj.music.spotify import MusicError, Spotify, safe_link
from emotion_dj.music.store import MusicStore, Play, StoreError
from emotion_dj.music.words import words_near

REQUEST_BUDGET = 40
DJ_REPEAT_DAYS = 1.0  # a track the DJ played stays out of playlists for a day, as out of the DJ's own picks
ADD_LIMIT = 100  # items per POST /playlists/{id}/items


@dataclass(frozen=True)
class Playlist:
    id: str
    name: str
    url: str
    tracks: int
    asked: int  # tracks asked for; more than `tracks` when search found too few
    taste_tracks: int = 0  # from the listener's own world (their artists, plays, playlists)
    requests: int = 0
    unrecorded: str | None = None  # the store's line when the playlist could not be written to the history
    thin: int = 0  # tracks chosen without enough evidence (fills)
    mix: str = ""  # what it is made of, for the HUD and the description


def _or_without_store(action, fallback, problems: list[str]):
    """The store's answer, or `fallback` with its one line kept in `problems` (a playlist never waits on the store)."""
    try:
        return action()
    except StoreError as error:
        problems.append(str(error))
        return fallback


def describe_mix(choices: list[Choice]) -> str:
    """'14 from your world, 6 discovery; by evidence: 9 from your playlists, 5 Last.fm tags, 6 thin'."""
    taste = sum(ch.candidate.taste for ch in choices)
    names = {"playlist": "from your playlists", "lastfm": "Last.fm tags", "room": "this room's reactions",
             "text": "genre or title"}
    by_source: dict[str, int] = {}
    for ch in choices:
        key = "thin" if ch.estimate.confidence < 0.3 else ch.source
        by_source[key] = by_source.get(key, 0) + 1
    evidence = ", ".join(f"{n} {names.get(k, k)}" for k, n in sorted(by_source.items(), key=lambda kv: -kv[1]))
    return f"{taste} from your world, {len(choices) - taste} discovery; by evidence: {evidence}"


def evidence_sources(store: MusicStore, lastfm: Lastfm | None, owner: str | None, use_taste: bool) -> list[EvidenceSource]:
    """The sources that are on: the listener's playlists (with consent), Last.fm (with a key), the room, the text."""
    sources: list[EvidenceSource] = [OwnPlaylists(owner)] if use_taste else []
    if lastfm is not None:
        sources.append(LastfmTags(lastfm, store))
    return sources + [RoomReactions(store), TextEvidence()]


def gather_evidence(candidates: list[Candidate], sources: list[EvidenceSource], target: MoodPoint,
                    say: Callable[[str], None], problems: list[str]) -> dict[str, list[Evidence]]:
    """Each source's evidence for this target; Last.fm last, asked about the most promising candidates first."""
    extra: dict[str, list[Evidence]] = {}
    for source in sorted(sources, key=lambda s: s.name == "lastfm"):
        if source.name == "lastfm":
            now = estimates(candidates, extra)
            ranked = sorted(candidates, key=lambda c: expected_distance(now[c.track.uri], target))
            found = source.annotate(ranked, target, say)
        else:
            found = _or_without_store(lambda s=source: s.annotate(candidates, target, say), {}, problems)
        for uri, pieces in found.items():
            extra.setdefault(uri, []).extend(pieces)
    return extra


def _top_up(library: SpotifyLibrary, target: MoodPoint, reserve: int, wanted: int,
            known: set[str]) -> list[Candidate]:
    """More discovery when the pool has too few usable tracks: pages of mood words near the target, until `wanted`
    new tracks are found or the budget (less `reserve`) is spent."""
    found: list[Candidate] = []
    pages = [(word, offset) for offset in range(0, 100, 10) for word, _ in words_near(target, 6)]
    for word, offset in pages:
        if library.left() <= reserve or len(found) >= wanted:
            break
        try:
            fresh = [t for t in library.search_tracks(word, offset) if t.uri not in known]
        except BudgetSpent:
            break
        known.update(t.uri for t in fresh)
        found += [Candidate(t, False, f"search '{word}'") for t in fresh]
    return found


def make_playlist(client: Spotify, store: MusicStore, snap: MoodSnapshot, settings: RecommendSettings,
                  public: bool = False, use_taste: bool = True, now: datetime | None = None,
                  rng: random.Random | None = None, lastfm: Lastfm | None = None,
                  say: Callable[[str], None] | None = None) -> Playlist:
    rng = rng or random.Random()
    say = say or (lambda line: None)
    library = SpotifyLibrary(client, REQUEST_BUDGET)
    me = library.call(client.me)  # fail early, before anything else, if the login is not valid
    owner = me.get("id") if isinstance(me, dict) and isinstance(me.get("id"), str) else None
    problems: list[str] = []
    sources = evidence_sources(store, lastfm, owner, use_taste)
    pool_library = SpotifyLibrary(client, POOL_BUDGET)
    gatherers = [s for s in sources if s.name in ("playlist", "lastfm")]
    candidates = _or_without_store(lambda: current_pool(pool_library, store, gatherers, say, use_taste)[0], None, problems)
    if candidates is None:  # no store: this playlist's own pool, not kept
        candidates = build_pool(pool_library, gatherers, say, use_taste)
    target = snap.point
    extra = gather_evidence(candidates, sources, target, say, problems)
    recent = _or_without_store(lambda: store.recent_uris(settings.repeat_days, dj_days=DJ_REPEAT_DAYS), set(), problems)
    adds = -(-settings.tracks // ADD_LIMIT)
    reserve = 1 + adds
    choices = choose(candidates, extra, target, settings.tracks, recent, settings.discovery, settings.per_artist, rng)
    if len(choices) < settings.tracks:  # the pool ran short (a new listener, a long run of one mood): search more
        known = {c.track.uri for c in candidates} | recent
        more = _top_up(library, target, reserve, 2 * (settings.tracks - len(choices)), known)
        extra.update(gather_evidence(more, [s for s in sources if s.name in ("text", "room")], target, say, problems))
        candidates = candidates + more
        choices = choose(candidates, extra, target, settings.tracks, recent, settings.discovery, settings.per_artist, rng)
    if not choices:
        raise MusicError(f"Spotify found no new tracks for '{snap.mood.title}'")
    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H:%M")
    name = f"Emotion DJ: {snap.mood.title} ({stamp})"
    p = snap.point
    description = (f"{snap.mood.title} for a {snap.mood.emotion} room (valence {p.valence:+.2f}, arousal {p.arousal:+.2f}), "
                   f"picked by Emotion DJ: {describe_mix(choices)}. {snap.mood.why}"
                   + (" Tags from Last.fm." if lastfm is not None else ""))
    playlist = library.call(client.current_user_playlist_create, name, public=public, description=description[:300])
    playlist_id = playlist.get("id") if isinstance(playlist, dict) else None
    if not isinstance(playlist_id, str) or not re.fullmatch(r"[A-Za-z0-9]+", playlist_id):
        raise MusicError("Spotify answered the playlist creation without a usable playlist id")
    uris = [ch.track.uri for ch in choices]
    for start in range(0, len(uris), ADD_LIMIT):
        library.call(client.playlist_add_items, playlist_id, uris[start:start + ADD_LIMIT])
    url = safe_link((playlist.get("external_urls") or {}).get("spotify")) or f"https://open.spotify.com/playlist/{playlist_id}"
    mood = nearest_class(p)
    _or_without_store(lambda: store.record([Play(ch.track.uri, ch.track.name, ch.track.artist, ch.why, mood=mood,
                                                 valence=p.valence, arousal=p.arousal, playlist=url) for ch in choices]),
                      0, problems)
    return Playlist(playlist_id, name, url, len(choices), settings.tracks, sum(ch.candidate.taste for ch in choices),
                    library.requests + pool_library.requests, problems[-1] if problems else None, thin(choices),
                    describe_mix(choices))
