"""From expression to music: the one place where emotions map to moods and search terms.

The reasoning follows the "iso principle" of music therapy: meet the listener where they are, then move
them gently. Positive states are matched and amplified; negative ones get music that acknowledges them
and leans toward calm or release rather than more of the same. Spotify's 2026 development-mode API has
no recommendations or audio features, so a mood is carried entirely by search terms (genres and moods
that Spotify's search ranks well), several per mood so one playlist mixes a few styles.

The snapshot taken on P is the main face's long-horizon average (a time constant of 3 s; see
runtime/tracking.py), never a single frame. The main face is the largest one in view: the person
nearest the camera, usually the one pressing the key.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mood:
    emotion: str  # the model's class name
    title: str  # what the user sees: in the HUD and in the playlist's name
    queries: tuple[str, ...]  # Spotify search terms, used round-robin
    why: str


MOODS: dict[str, Mood] = {m.emotion: m for m in (
    Mood("happy", "Feel Good", ("feel good pop", "happy upbeat", "good vibes dance"),
         "Joy is matched and amplified: bright, danceable pop."),
    Mood("surprise", "Spark", ("euphoric electronic", "upbeat indie", "party anthems"),
         "Surprise is high arousal: keep the energy with bright, fresh-sounding tracks."),
    Mood("neutral", "Easy Flow", ("chill lofi", "indie chill", "acoustic coffeehouse"),
         "A calm, neutral room gets unobtrusive background music that does not push a mood."),
    Mood("sad", "Comfort", ("sad acoustic", "mellow indie", "comforting piano"),
         "Sadness is acknowledged first (iso principle) with gentle, warm songs, not forced cheer."),
    Mood("angry", "Release", ("cathartic rock", "intense hip hop", "calm down chill"),
         "Anger gets a cathartic outlet, then cooler tracks to bring the arousal down."),
    Mood("fear", "Reassure", ("calm ambient", "peaceful piano", "soothing acoustic"),
         "Fear and tension call for slow, predictable, soothing sounds."),
    Mood("disgust", "Reset", ("lofi beats", "feel good soul", "chill groove"),
         "Disgust is a palate cleanser: warm, familiar grooves to reset the room."),
    # FER+'s eighth class. Contempt is cool, low-arousal disapproval (a one-sided smirk), not distress: it needs
    # neither soothing (fear, sadness) nor an outlet (anger). Meeting it in its own register, self-assured and
    # unhurried, earns a hearing that cheerful pop would not; a groove then draws the room back in.
    Mood("contempt", "Win Over", ("smooth funk", "neo soul groove", "confident hip hop"),
         "Contempt is cool disapproval: confident, laid-back grooves meet it in its register and win the room back."),
)}


@dataclass(frozen=True)
class MoodSnapshot:
    mood: Mood
    confidence: float  # the averaged probability of the chosen emotion
    probs: dict[str, float]
    face_id: int | None = None

    def describe(self) -> str:
        return f"{self.mood.emotion} {self.confidence * 100:.0f}% -> '{self.mood.title}'"


def mood_by_name(name: str) -> Mood:
    """An emotion name (happy, sad...) or a mood title (Feel Good, comfort...)."""
    key = name.strip().lower()
    for mood in MOODS.values():
        if key in (mood.emotion, mood.title.lower(), mood.title.lower().replace(" ", "-")):
            return mood
    choices = ", ".join(MOODS)
    raise ValueError(f"unknown mood '{name}': choose an emotion ({choices}) or a mood title")


def snapshot(classes: tuple[str, ...], probs: np.ndarray, face_id: int | None = None) -> MoodSnapshot:
    """The mood for averaged probabilities over `classes` (the model's own class list)."""
    best = int(np.argmax(probs))
    mood = MOODS.get(classes[best], MOODS["neutral"])
    return MoodSnapshot(mood, float(probs[best]), {c: round(float(p), 4) for c, p in zip(classes, probs)}, face_id)
