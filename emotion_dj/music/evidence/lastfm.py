"""Last.fm's crowd tags, opt-in (LASTFM_API_KEY): a track's own tags, its artist's when it has none, and the tracks
Last.fm lists for a mood tag, as candidates.

At 5 requests a second a whole pool cannot be tagged at once, so the tags that matter come first: the artists of the
most promising candidates (one request places every track of an artist, weakly), then those candidates' own tags.
Tags are kept in the store for a month (TAG_DAYS), a few hundred bytes each, far within Last.fm's 100 MB.
A fault (a bad key, Last.fm down or slow, rate-limited) is one line; the music goes on with what it has.
"""
from __future__ import annotations

import time

from emotion_dj.music.evidence import Candidate, Evidence, EvidenceSource
from emotion_dj.music.lastfm import Lastfm, LastfmError
from emotion_dj.music.lexicon import LEXICON, place
from emotion_dj.music.library import BudgetSpent
from emotion_dj.music.plane import MoodPoint
from emotion_dj.music.spotify import clean

TRACK_WEIGHT = 0.6
ARTIST_WEIGHT = 0.25
CHART_WEIGHT = 0.5  # a track in a mood tag's chart: tagged with it, often
TAG_DAYS = 30
CHART_TAGS = ("happy", "feel good", "upbeat", "party", "energetic", "chill", "mellow", "relaxing", "sad", "melancholy",
              "aggressive", "angry", "dark")
LOOKUPS_PER_TAG = 3  # Spotify searches to find a chart's tracks there (track: and artist: filters)
ARTISTS_PER_PLAYLIST = 30
TRACKS_PER_PLAYLIST = 30
TIME_BUDGET_S = 25.0  # seconds of Last.fm requests for one playlist (5 a second)


def tags_point(tags: list[tuple[str, int]]) -> tuple[MoodPoint, list[str]] | None:
    """Where a list of (tag, count) places a track: the count-weighted mean of the tags the lexicon knows."""
    placed = [(place(name), name, max(count, 1)) for name, count in tags]
    placed = [(p[0], name, count) for p, name, count in placed if p is not None]
    if not placed:
        return None
    total = sum(count for _, _, count in placed)
    point = MoodPoint(sum(p.valence * k for p, _, k in placed) / total, sum(p.arousal * k for p, _, k in placed) / total)
    return point, [name for _, name, _ in placed]


class LastfmTags(EvidenceSource):
    name = "lastfm"

    def __init__(self, client: Lastfm, store, clock=time.monotonic, time_budget_s: float = TIME_BUDGET_S):
        self.client, self.store, self.clock, self.time_budget_s = client, store, clock, time_budget_s
        self.off: str | None = None  # the line that turned it off for this run (a bad key...)
        self._said = False

    def _fetch(self, key: str, fetch) -> list[tuple[str, int]] | None:
        """Tags from the store when under a month old, else from Last.fm (and kept); None once Last.fm is off."""
        kept = self.store.tags(key, max_age_days=TAG_DAYS)
        if kept is not None:
            return kept
        if self.off:
            return None
        try:
            tags = fetch()
        except LastfmError as error:
            self.off = str(error)
            return None
        self.store.save_tags(key, tags)
        return tags

    def gather(self, library, say) -> list[Candidate]:
        """The tracks Last.fm lists for mood tags, found on Spotify by their names."""
        found: list[Candidate] = []
        for tag in CHART_TAGS:
            if self.off:
                break
            try:
                chart = self.client.tag_tracks(tag, limit=LOOKUPS_PER_TAG * 3)
            except LastfmError as error:
                self.off = str(error)
                break
            looked = 0
            for artist, title in chart:
                if looked >= LOOKUPS_PER_TAG:
                    break
                looked += 1
                try:
                    hits = library.search_tracks(f'track:"{title}" artist:"{artist}"')
                except BudgetSpent:
                    return found
                match = [t for t in hits if t.artist.lower() == artist.lower()]
                if match:
                    point = MoodPoint(*LEXICON[tag])
                    found.append(Candidate(match[0], False, f"Last.fm's '{tag}' chart",
                                           [Evidence("lastfm", point, CHART_WEIGHT, f"tagged {tag} on Last.fm")]))
        self._say_once(say)
        return found

    def _say_once(self, say) -> None:
        if self.off and not self._said:
            self._said = True
            say(self.off)

    def annotate(self, candidates: list[Candidate], target: MoodPoint, say) -> dict[str, list[Evidence]]:
        """Tags for the most promising candidates (best first), within the time budget: first their artists' tags
        (one request places every track of an artist, weakly), then, ranked again with what those said, the own
        tags of the best TRACKS_PER_PLAYLIST."""
        from emotion_dj.music.choose import expected_distance
        from emotion_dj.music.evidence import estimate

        ends = self.clock() + self.time_budget_s
        asked_artists = 0
        for c in candidates:
            key = f"artist\x1f{c.track.artist.lower()}"
            if self.store.tags(key, TAG_DAYS) is not None:
                continue
            if asked_artists >= ARTISTS_PER_PLAYLIST or self.clock() > ends or self.off:
                break
            asked_artists += 1
            self._fetch(key, lambda n=c.track.artist: self.client.artist_tags(n))
        found = {c.track.uri: self._evidence(c) for c in candidates}
        ranked = sorted(candidates, key=lambda c: expected_distance(estimate(c.evidence + found[c.track.uri]), target))
        asked = 0
        for c in ranked:
            if asked >= TRACKS_PER_PLAYLIST or self.clock() > ends or self.off:
                break
            key = self._track_key(c)
            if self.store.tags(key, TAG_DAYS) is None:
                asked += 1
                self._fetch(key, lambda c=c: self.client.track_tags(c.track.artist, c.track.name))
                found[c.track.uri] = self._evidence(c)
        self._say_once(say)
        return {uri: pieces for uri, pieces in found.items() if pieces}

    @staticmethod
    def _track_key(c: Candidate) -> str:
        return f"track\x1f{c.track.artist.lower()}\x1f{c.track.name.lower()}"

    def _evidence(self, c: Candidate) -> list[Evidence]:
        """What the kept tags say of one candidate: its own tags, else its artist's, weaker."""
        tags = self.store.tags(self._track_key(c), TAG_DAYS)
        placed = tags_point(tags) if tags else None
        if placed:
            return [Evidence("lastfm", placed[0], TRACK_WEIGHT, f"tagged {', '.join(placed[1][:2])} on Last.fm")]
        artist_tags = self.store.tags(f"artist\x1f{c.track.artist.lower()}", TAG_DAYS)
        placed = tags_point(artist_tags) if artist_tags else None
        if placed:
            return [Evidence("lastfm", placed[0], ARTIST_WEIGHT,
                             f"{clean(c.track.artist, 40)} is tagged {', '.join(placed[1][:2])} on Last.fm")]
        return []
