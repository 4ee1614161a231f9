"""Mood in words: the search terms for a point of the mood plane, and a track's rough point from its words.

Spotify's 2026 development-mode API gives no audio features, so the mood of a track can only come from text: the
words of its title and album, the phrase that found it, and its genre. These tables are the project's own,
hand-placed on the plane (valence, arousal, -1..1) by where the word is commonly used; they are a starting point
the DJ's learning refines, not measurements.
"""
from __future__ import annotations

import math
import re

from emotion_dj.music.plane import MoodPoint

MOOD_WORDS: dict[str, tuple[float, float]] = {
    # pleasant, excited
    "happy": (0.80, 0.50), "joyful": (0.85, 0.60), "upbeat": (0.70, 0.70), "party": (0.70, 0.85),
    "dance": (0.60, 0.80), "euphoric": (0.80, 0.90), "sunny": (0.75, 0.35), "feel good": (0.80, 0.45),
    "bright": (0.60, 0.50), "energetic": (0.40, 0.90), "electric": (0.40, 0.80), "wild": (0.30, 0.85),
    "confident": (0.45, 0.45), "groove": (0.40, 0.30),
    # pleasant, calm
    "chill": (0.40, -0.50), "mellow": (0.30, -0.60), "peaceful": (0.50, -0.70), "calm": (0.35, -0.75),
    "relaxing": (0.45, -0.65), "warm": (0.55, -0.20), "dreamy": (0.35, -0.40), "sweet": (0.60, -0.10),
    "smooth": (0.30, -0.15), "easy": (0.30, -0.30),
    # near neutral
    "focus": (0.10, -0.20), "ambient": (0.05, -0.55), "steady": (0.05, 0.05), "soft": (0.20, -0.45),
    # unpleasant, calm
    "sad": (-0.65, -0.30), "melancholy": (-0.50, -0.45), "lonely": (-0.60, -0.40), "rainy": (-0.30, -0.50),
    "blue": (-0.45, -0.30), "longing": (-0.40, -0.20), "heartbreak": (-0.70, -0.05), "tears": (-0.70, 0.00),
    # unpleasant, excited
    "angry": (-0.60, 0.75), "rage": (-0.70, 0.90), "aggressive": (-0.45, 0.85), "intense": (-0.20, 0.80),
    "dark": (-0.45, 0.30), "tense": (-0.40, 0.60), "anxious": (-0.55, 0.60), "haunting": (-0.40, 0.10),
    "bitter": (-0.55, 0.20), "defiant": (-0.20, 0.50),
}

# Where a genre usually sits, for choosing which of the listener's genres fit a mood (unknown genres: neutral).
GENRE_POINTS: dict[str, tuple[float, float]] = {
    "pop": (0.50, 0.40), "dance": (0.55, 0.75), "edm": (0.45, 0.85), "house": (0.45, 0.65), "techno": (0.10, 0.75),
    "hip hop": (0.10, 0.60), "rap": (0.00, 0.65), "r&b": (0.30, 0.05), "soul": (0.30, -0.05), "funk": (0.60, 0.55),
    "jazz": (0.25, -0.25), "blues": (-0.35, -0.20), "rock": (0.05, 0.60), "indie": (0.15, 0.10), "metal": (-0.45, 0.85),
    "punk": (-0.20, 0.85), "folk": (0.10, -0.40), "acoustic": (0.20, -0.50), "country": (0.25, 0.05),
    "classical": (0.15, -0.50), "ambient": (0.10, -0.75), "lo-fi": (0.20, -0.60), "reggae": (0.50, 0.00),
    "latin": (0.60, 0.60),
}
WORD = re.compile(r"[a-z&\-]+")


def word_point(word: str) -> MoodPoint:
    return MoodPoint(*MOOD_WORDS[word])


def genre_point(genre: str) -> MoodPoint:
    return MoodPoint(*GENRE_POINTS.get(genre.lower(), (0.0, 0.0)))


def words_near(point: MoodPoint, count: int = 8) -> list[tuple[str, float]]:
    """The `count` mood words nearest the point, with a weight for drawing them (nearer: likelier)."""
    ranked = sorted(MOOD_WORDS, key=lambda w: point.distance(word_point(w)))[:count]
    return [(w, math.exp(-point.distance(word_point(w)) / 0.25)) for w in ranked]


def text_point(text: str) -> MoodPoint | None:
    """The mean point of the mood words in a text (a title, an album name); None when it has none."""
    lowered = " ".join(WORD.findall(text.lower()))
    found = [word_point(w) for w in MOOD_WORDS if re.search(rf"\b{re.escape(w)}\b", lowered)]
    if not found:
        return None
    return MoodPoint(sum(p.valence for p in found) / len(found), sum(p.arousal for p in found) / len(found))
