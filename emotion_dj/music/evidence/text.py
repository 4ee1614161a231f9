"""The weakest evidence: a track's genres (from the listener's top artists, where Spotify still sends them) and the
mood words of its title and album. Real titles rarely say mood (about 3%), and a genre's tracks scatter widely,
so these count little; they are what pure discovery has."""
from __future__ import annotations

from emotion_dj.music.evidence import Candidate, Evidence, EvidenceSource
from emotion_dj.music.lexicon import place
from emotion_dj.music.plane import MoodPoint
from emotion_dj.music.words import GENRE_POINTS, genre_point

GENRE_WEIGHT = 0.15
TITLE_WEIGHT = 0.1


class TextEvidence(EvidenceSource):
    name = "text"

    def annotate(self, candidates: list[Candidate], target: MoodPoint, say) -> dict[str, list[Evidence]]:
        found: dict[str, list[Evidence]] = {}
        for c in candidates:
            pieces = []
            genres = [g for a in c.track.artists[:1] for g in a.genres if g.lower() in GENRE_POINTS]
            if genres:
                point = genre_point(genres[0])
                pieces.append(Evidence("text", point, GENRE_WEIGHT, f"{genres[0]} usually sits there"))
            said = place(f"{c.track.name} {c.track.album}")
            if said:
                pieces.append(Evidence("text", said[0], TITLE_WEIGHT, f"its title says {', '.join(said[1][:2])}"))
            if pieces:
                found[c.track.uri] = pieces
        return found
