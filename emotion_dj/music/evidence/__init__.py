"""Mood evidence per track: what each source says about where a track sits on the mood plane, how strongly, and
why; combined into one estimated point and a confidence.

A source is one small file here, behind one small interface (`EvidenceSource`), the way Mopidy's backends or
Frigate's detectors are:
- `playlists.py`: the listener's own playlists, placed by their names ("Sad songs", "Workout");
- `lastfm.py`: Last.fm's crowd tags, opt-in (LASTFM_API_KEY);
- `room.py`: what this room did while the DJ played a track or an artist;
- `text.py`: genres and the words of titles, the weakest, and the only evidence for pure discovery.

Strength (`Evidence.weight`) says how much one piece counts. It is set per source from how well that kind of
evidence follows a track's mood (docs/MUSIC.md): a mood-named playlist of the listener's (its tracks fit its name
about two times in three) counts 1; a track's Last.fm tags (r about 0.4 against audio valence) 0.6, its artist's
0.25; the room's reaction to one play 0.4; a genre 0.15; a title's mood word 0.1. The estimate is the weighted
mean point, and its confidence is W / (W + 1) for total weight W: one playlist alone gives 0.5.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from emotion_dj.music.library import Artist, Track
from emotion_dj.music.plane import MoodPoint


@dataclass(frozen=True)
class Evidence:
    source: str  # playlist | lastfm | room | text
    point: MoodPoint
    weight: float  # how much it counts (see above); a skip is a negative weight: evidence against
    why: str  # "from your playlist 'Sad songs'", "tagged melancholy, mellow on Last.fm"


@dataclass
class Candidate:
    track: Track
    taste: bool  # from the listener's own world (their artists, plays, playlists), else discovery
    found: str  # where it came from: "your top tracks", "Last.fm's 'sad' chart", "search 'mellow'"
    evidence: list[Evidence] = field(default_factory=list)  # what the pool knew when it was built

    def to_dict(self) -> dict:
        t = self.track
        return {"uri": t.uri, "name": t.name, "album": t.album, "year": t.year, "taste": self.taste, "found": self.found,
                "artists": [[a.id, a.name, list(a.genres)] for a in t.artists],
                "evidence": [[e.source, e.point.valence, e.point.arousal, e.weight, e.why] for e in self.evidence]}

    @classmethod
    def from_dict(cls, d: dict) -> Candidate:
        artists = tuple(Artist(str(i), str(n), tuple(g)) for i, n, g in d["artists"])
        track = Track(d["uri"], d["name"], artists, d.get("album", ""), d.get("year"))
        evidence = [Evidence(s, MoodPoint(v, a), w, why) for s, v, a, w, why in d.get("evidence", [])]
        return cls(track, bool(d["taste"]), str(d.get("found", "")), evidence)


@dataclass(frozen=True)
class Estimate:
    point: MoodPoint
    confidence: float  # 0 (nothing known) .. 1
    against: float  # weight of evidence against the track (skips in this room)
    reasons: tuple[str, ...]  # the strongest pieces' `why`, strongest first


def estimate(evidence: list[Evidence]) -> Estimate:
    """One point and a confidence from every piece of evidence about a track."""
    placed = [e for e in evidence if e.weight > 0]
    total = sum(e.weight for e in placed)
    against = -sum(e.weight for e in evidence if e.weight < 0)
    if total <= 0:
        return Estimate(MoodPoint(0.0, 0.0), 0.0, against, ())
    point = MoodPoint(sum(e.point.valence * e.weight for e in placed) / total,
                      sum(e.point.arousal * e.weight for e in placed) / total)
    strongest: dict[str, float] = {}
    for e in sorted(placed, key=lambda e: -e.weight):
        strongest.setdefault(e.why, e.weight)
    return Estimate(point, total / (total + 1.0), against, tuple(strongest)[:2])


class EvidenceSource:
    """One kind of mood evidence. `gather` adds candidates to the day's pool (optional); `annotate` adds evidence to
    candidates before a choice, spending at most its own budget; both say a fault in one line through `say` and
    never raise."""

    name = "source"

    def gather(self, library, say) -> list[Candidate]:
        return []

    def annotate(self, candidates: list[Candidate], target: MoodPoint, say) -> dict[str, list[Evidence]]:
        return {}
