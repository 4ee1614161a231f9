"""One playlist: the taste (stored, or read once a day), the recommendation, the playlist on Spotify, the memory.

At most REQUEST_BUDGET requests in all: the login check, the taste refresh when it is due (5), the searches, the
creation and the additions. The tracks are written to the store in one transaction once Spotify has them, so a
crash loses at most the playlist being made. A store that cannot be used (a full disk, a read-only file system, a
lock) does not stop the playlist: it is made without the variety window or the kept taste, and `unrecorded` says
why it is not in the history.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime

from emotion_dj.music.library import SpotifyLibrary
from emotion_dj.music.mood import MoodSnapshot
from emotion_dj.music.plane import nearest_class
from emotion_dj.music.recommend import Pick, RecommendSettings, recommend
from emotion_dj.music.spotify import MusicError, Spotify, safe_link
from emotion_dj.music.store import MusicStore, Play, StoreError
from emotion_dj.music.taste import current_taste

REQUEST_BUDGET = 40
ADD_LIMIT = 100  # items per POST /playlists/{id}/items


@dataclass(frozen=True)
class Playlist:
    id: str
    name: str
    url: str
    tracks: int
    asked: int  # tracks asked for; more than `tracks` when search found too few
    taste_tracks: int = 0  # found through the listener's genres or artists
    requests: int = 0
    unrecorded: str | None = None  # the store's line when the playlist could not be written to the history


def _or_without_store(action, fallback, problems: list[str]):
    """The store's answer, or `fallback` with its one line kept in `problems` (a playlist never waits on the store)."""
    try:
        return action()
    except StoreError as error:
        problems.append(str(error))
        return fallback


def describe_mix(picks: list[Pick]) -> str:
    """'12 from your taste (soul, Nina Simone), 8 discovery'."""
    taste = [p for p in picks if p.phrase.kind == "taste"]
    sources = sorted({p.phrase.why.split(": ", 1)[1] for p in taste}, key=str.lower)[:3]
    parts = [f"{len(taste)} from your taste ({', '.join(sources)})"] if taste else []
    parts.append(f"{len(picks) - len(taste)} discovery")
    return ", ".join(parts)


def make_playlist(client: Spotify, store: MusicStore, snap: MoodSnapshot, settings: RecommendSettings,
                  public: bool = False, use_taste: bool = True, now: datetime | None = None,
                  rng: random.Random | None = None) -> Playlist:
    library = SpotifyLibrary(client, REQUEST_BUDGET)
    library.call(client.me)  # fail early, before any search, if the login is not valid
    problems: list[str] = []
    taste = _or_without_store(lambda: current_taste(library, store), None, problems) if use_taste else None
    adds = -(-settings.tracks // ADD_LIMIT)
    recent = _or_without_store(lambda: store.recent_uris(settings.repeat_days), set(), problems)
    picks = recommend(library, snap.point, taste, recent, settings, rng, reserve=1 + adds)
    if not picks:
        raise MusicError(f"Spotify search found no new tracks for '{snap.mood.title}'")
    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H:%M")
    name = f"Emotion DJ: {snap.mood.title} ({stamp})"
    p = snap.point
    description = (f"{snap.mood.title} for a {snap.mood.emotion} room (valence {p.valence:+.2f}, arousal {p.arousal:+.2f}), "
                   f"picked by Emotion DJ: {describe_mix(picks)}. {snap.mood.why}")
    playlist = library.call(client.current_user_playlist_create, name, public=public, description=description[:300])
    playlist_id = playlist.get("id") if isinstance(playlist, dict) else None
    if not isinstance(playlist_id, str) or not re.fullmatch(r"[A-Za-z0-9]+", playlist_id):
        raise MusicError("Spotify answered the playlist creation without a usable playlist id")
    uris = [pick.track.uri for pick in picks]
    for start in range(0, len(uris), ADD_LIMIT):
        library.call(client.playlist_add_items, playlist_id, uris[start:start + ADD_LIMIT])
    url = safe_link((playlist.get("external_urls") or {}).get("spotify")) or f"https://open.spotify.com/playlist/{playlist_id}"
    mood = nearest_class(p)
    _or_without_store(lambda: store.record([Play(k.track.uri, k.track.name, k.track.artist, k.phrase.query, mood=mood,
                                                 valence=p.valence, arousal=p.arousal, playlist=url) for k in picks]),
                      0, problems)
    return Playlist(playlist_id, name, url, len(picks), settings.tracks, sum(k.phrase.kind == "taste" for k in picks),
                    library.requests, problems[-1] if problems else None)

