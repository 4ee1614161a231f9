"""From expression to what the user reads: each class's mood title and the reason shown with it.

The music itself follows the mood *point* (music/plane.py): the probability-weighted valence and arousal of
every class, not the top one, so a mixed room gets music from between its moods. The title names the top class,
for the HUD and the playlist's name. `--mood sad` means sad's point.

The snapshot taken on P is the room's mood: the mean of every face in view, each a long-horizon average (a time
constant of 3 s; see runtime/tracking.py), never a single frame. The main face (the largest one, the person
nearest the camera) is still named in the events, for the report.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emotion_dj.music.plane import NEUTRAL, MoodPoint, class_point, point_of


@dataclass(frozen=True)
class Mood:
    emotion: str  # the model's class name
    title: str  # what the user sees: in the HUD and in the playlist's name
    web_search: str  # the phrase Spotify's web search opens with when there are no credentials
    why: str


MOODS: dict[str, Mood] = {m.emotion: m for m in (
    Mood("happy", "Feel Good", "feel good pop",
         "Joy is matched and amplified: bright, danceable pop."),
    Mood("surprise", "Spark", "euphoric electronic",
         "Surprise is high arousal: keep the energy with bright, fresh-sounding tracks."),
    Mood("neutral", "Easy Flow", "chill lofi",
         "A calm, neutral room gets unobtrusive background music that does not push a mood."),
    Mood("sad", "Comfort", "sad acoustic",
         "Sadness is acknowledged first (iso principle) with gentle, warm songs, not forced cheer."),
    Mood("angry", "Release", "cathartic rock",
         "Anger gets a cathartic outlet, then cooler tracks to bring the arousal down."),
    Mood("fear", "Reassure", "calm ambient",
         "Fear and tension call for slow, predictable, soothing sounds."),
    Mood("disgust", "Reset", "lofi beats",
         "Disgust is a palate cleanser: warm, familiar grooves to reset the room."),
    # FER+'s eighth class. Contempt is cool, low-arousal disapproval (a one-sided smirk), not distress: it needs
    # neither soothing (fear, sadness) nor an outlet (anger). Meeting it in its own register, self-assured and
    # unhurried, earns a hearing that cheerful pop would not; a groove then draws the room back in.
    Mood("contempt", "Win Over", "smooth funk",
         "Contempt is cool disapproval: confident, laid-back grooves meet it in its register and win the room back."),
)}


@dataclass(frozen=True)
class MoodSnapshot:
    mood: Mood  # the top class's: its title is what the user reads
    confidence: float  # the averaged probability of the top class
    probs: dict[str, float]
    face_id: int | None = None  # the main face, when the snapshot came from a camera
    point: MoodPoint = NEUTRAL  # where the music goes
    faces: int = 1  # how many faces the point averages

    def describe(self) -> str:
        return f"{self.mood.emotion} {self.confidence * 100:.0f}% -> '{self.mood.title}'"


def for_mood(mood: Mood) -> MoodSnapshot:
    """A snapshot of one pure class (`--mood sad`): that class's point."""
    return MoodSnapshot(mood, 1.0, {mood.emotion: 1.0}, None, class_point(mood.emotion), 0)


def mood_by_name(name: str) -> Mood:
    """An emotion name (happy, sad...) or a mood title (Feel Good, comfort...)."""
    key = name.strip().lower()
    for mood in MOODS.values():
        if key in (mood.emotion, mood.title.lower(), mood.title.lower().replace(" ", "-")):
            return mood
    choices = ", ".join(MOODS)
    raise ValueError(f"unknown mood '{name}': choose an emotion ({choices}) or a mood title")


def snapshot(classes: tuple[str, ...], probs: np.ndarray, face_id: int | None = None, faces: int = 1) -> MoodSnapshot:
    """The mood for averaged probabilities over `classes` (the model's own class list): top class and point."""
    probs = np.asarray(probs, np.float64)
    best = int(np.argmax(probs))
    mood = MOODS.get(classes[best], MOODS["neutral"])
    return MoodSnapshot(mood, float(probs[best]), {c: round(float(p), 4) for c, p in zip(classes, probs)}, face_id,
                        point_of(classes, probs), faces)
