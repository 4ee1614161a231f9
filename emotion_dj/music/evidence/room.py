"""The room itself: what the faces did while the DJ played a track, the one evidence no other app has.

Each track the DJ played has its outcome in the store (the room's mood before it and over its first minute, and
whether it was skipped). Where the room went while a track played places that track (a track this room smiled
through is evidence for happy), and weaker, its artist's other tracks; a skip is evidence against it. The room's
mood over a track is partly the mood it already had (the DJ picks for the room), so the point is the room's
reaction carried on one step, `during + (during - before)`: a room that was already happy and stayed happy places
the track at happy, one that sank while it played places it lower. Kept on the device
(docs/PRIVACY.md); `history --forget` clears it.
"""
from __future__ import annotations

import time

from emotion_dj.music.evidence import Candidate, Evidence, EvidenceSource
from emotion_dj.music.plane import MoodPoint, nearest_class

PLAY_WEIGHT = 0.4
ARTIST_WEIGHT = 0.05  # an artist's tracks scatter widely: their other tracks' reactions say little of this one
ARTIST_CAP = 0.2
SKIP_WEIGHT = -0.4
WHAT_FACES_DID = {"happy": "smiled through it", "surprise": "lit up at it", "neutral": "stayed even through it",
                  "sad": "grew quiet with it", "angry": "tensed at it", "fear": "tensed at it", "disgust": "soured at it",
                  "contempt": "soured at it"}


class RoomReactions(EvidenceSource):
    name = "room"

    def __init__(self, store):
        self.store = store

    def annotate(self, candidates: list[Candidate], target: MoodPoint, say) -> dict[str, list[Evidence]]:
        reactions = self.store.room_reactions()
        if not reactions:
            return {}
        by_uri: dict[str, list] = {}
        by_artist: dict[str, list] = {}
        for r in reactions:
            d, b = r["during"], r["before"]
            r = {**r, "during": MoodPoint(max(-1.0, min(1.0, 2 * d.valence - b.valence)),
                                          max(-1.0, min(1.0, 2 * d.arousal - b.arousal)))}
            by_uri.setdefault(r["uri"], []).append(r)
            if r["artist"]:
                by_artist.setdefault(r["artist"].lower(), []).append(r)
        found: dict[str, list[Evidence]] = {}
        for c in candidates:
            pieces = []
            for r in by_uri.get(c.track.uri, []):
                when = time.strftime("%-d %B", time.localtime(r["started_at"]))
                if r["skipped"]:
                    pieces.append(Evidence("room", r["during"], SKIP_WEIGHT, f"skipped in this room on {when}"))
                else:
                    did = WHAT_FACES_DID[nearest_class(r["during"])]
                    pieces.append(Evidence("room", r["during"], PLAY_WEIGHT, f"this room {did} on {when}"))
            others = [r for r in by_artist.get(c.track.artist.lower(), []) if r["uri"] != c.track.uri and not r["skipped"]]
            if others:
                weight = min(ARTIST_CAP, ARTIST_WEIGHT * len(others))
                point = MoodPoint(sum(r["during"].valence for r in others) / len(others),
                                  sum(r["during"].arousal for r in others) / len(others))
                pieces.append(Evidence("room", point, weight, f"this room {WHAT_FACES_DID[nearest_class(point)]} "
                                                              f"with {c.track.artist}"))
            if pieces:
                found[c.track.uri] = pieces
        return found
