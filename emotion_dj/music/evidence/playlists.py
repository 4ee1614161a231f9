"""The listener's own playlists: their names are the listener's own labels. "Sad songs", "Sunday morning",
"Workout" and "rainy days" place their tracks on the plane (music/lexicon.py); "Road trip" or "2019" place nothing
(their tracks still join the pool as the listener's taste).

Read with consent (`playlist-read-private`, `playlist-read-collaborative`): GET /me/playlists (one page of 50),
then the items of the ones the listener owns or collaborates on (up to MAX_PLAYLISTS, mood-named first, 100 tracks
each). The result is part of the day's pool (music/pool.py), so it is read at most once a day. A playlist that
vanished since it was listed, or a login without the scopes, is one line and the rest goes on.
"""
from __future__ import annotations

import spotipy

from emotion_dj.music.evidence import Candidate, Evidence, EvidenceSource
from emotion_dj.music.lexicon import place
from emotion_dj.music.library import BudgetSpent, ScopeMissing

MAX_PLAYLISTS = 10
NAME_WEIGHT = 1.0


class OwnPlaylists(EvidenceSource):
    name = "playlist"

    def __init__(self, owner: str | None):
        self.owner = owner  # the listener's Spotify id (GET /me): only their own playlists are read

    def gather(self, library, say) -> list[Candidate]:
        try:
            lists = library.own_playlists(self.owner)
        except ScopeMissing:
            say("your playlists were not read: the login lacks playlist-read-private (log in again to allow it)")
            return []
        except BudgetSpent:
            return []
        placed = [(pid, name, place(name)) for pid, name in lists]
        placed.sort(key=lambda x: x[2] is None)  # mood-named first: they are the evidence
        found: list[Candidate] = []
        for pid, name, where in placed[:MAX_PLAYLISTS]:
            try:
                tracks = library.playlist_tracks(pid)
            except BudgetSpent:
                break
            except spotipy.SpotifyException as error:
                if error.http_status in (403, 404):
                    say(f"your playlist '{name}' could not be read ({error.http_status}: gone, or not yours); going on")
                    continue
                raise
            evidence = [] if where is None else [Evidence("playlist", where[0], NAME_WEIGHT, f"from your playlist '{name}'")]
            found += [Candidate(t, True, f"your playlist '{name}'", list(evidence)) for t in tracks]
        return found
