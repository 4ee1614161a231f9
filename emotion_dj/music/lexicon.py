"""The words people use for the mood of music, placed on the mood plane: Last.fm's tags and the names of their own
playlists ("Sad songs", "Sunday morning", "Workout", "rainy days").

Basis, in one place. The values are the project's own, hand-placed on the plane (valence, arousal, -1..1):
- **Feelings** ("sad", "euphoric", "bitter") sit where the word's meaning sits on Russell's circumplex. Their order
  along each axis follows the common reading of the word in affective word norms (Warriner, Kuperman & Brysbaert,
  2013, rated 13,915 English lemmas for valence and arousal), which is also how the published tag-to-mood work maps
  tags (the MuSe dataset, 2021, placed 90,000 songs through their Last.fm tags and those norms; Deezer's mood
  dataset, 2022, kept the songs whose tags fall in the norms). No number here is copied from any of them: the
  scale is the plane's, the spacing ours.
- **Activities and moments** ("workout", "sleep", "sunday morning", "late night") sit where the music people pick
  for them usually sits: workout pleasant and very excited, sleep pleasant and very calm.
- **Musical descriptions** ("mellow", "upbeat", "heavy", "atmospheric") sit by the sound they describe: arousal
  from tempo and loudness, valence from the mood the word is used for.
- Words that place nothing ("road trip", "2019", "favourites", "mix") are simply absent: a name without a word of
  this table says nothing about mood.

Nothing here is a measurement of a track: it is evidence, weighed by its source (music/evidence/).
"""
from __future__ import annotations

import re

from emotion_dj.music.plane import MoodPoint

LEXICON: dict[str, tuple[float, float]] = {
    # -- feelings: pleasant, excited ------------------------------------------------------------------------------
    "happy": (0.80, 0.50), "happiness": (0.80, 0.50), "joy": (0.85, 0.60), "joyful": (0.85, 0.60),
    "joyous": (0.85, 0.60), "cheerful": (0.75, 0.45), "glad": (0.70, 0.35), "fun": (0.75, 0.65),
    "euphoric": (0.80, 0.90), "euphoria": (0.80, 0.90), "ecstatic": (0.80, 0.90), "excited": (0.65, 0.85),
    "exciting": (0.60, 0.80), "elated": (0.80, 0.75), "playful": (0.70, 0.55), "silly": (0.55, 0.55),
    "optimistic": (0.70, 0.35), "hopeful": (0.60, 0.20), "uplifting": (0.75, 0.50), "inspiring": (0.65, 0.45),
    "triumphant": (0.70, 0.75), "celebration": (0.75, 0.75), "celebrate": (0.75, 0.75), "proud": (0.60, 0.45),
    "confident": (0.50, 0.45), "carefree": (0.70, 0.30), "free": (0.60, 0.35), "sunshine": (0.75, 0.40),
    "sunny": (0.75, 0.35), "summer": (0.65, 0.45), "good vibes": (0.75, 0.40), "good mood": (0.75, 0.40),
    "feel good": (0.80, 0.45), "feelgood": (0.80, 0.45), "positive": (0.70, 0.35), "bright": (0.60, 0.45),
    "amazing": (0.70, 0.55), "awesome": (0.65, 0.55), "love": (0.65, 0.20), "in love": (0.70, 0.30),
    "lovely": (0.70, 0.05), "romantic": (0.60, 0.00), "sexy": (0.45, 0.45), "sensual": (0.45, 0.10),
    "flirty": (0.55, 0.40), "cute": (0.60, 0.15), "sweet": (0.60, -0.10), "beautiful": (0.60, -0.05),
    "heavenly": (0.65, -0.30), "magical": (0.60, 0.20), "wonderful": (0.75, 0.30), "grateful": (0.65, -0.05),
    "thankful": (0.65, -0.05), "victory": (0.70, 0.70), "winning": (0.60, 0.65), "badass": (0.30, 0.75),
    "swagger": (0.35, 0.50), "cool": (0.40, 0.10), "catchy": (0.50, 0.50), "quirky": (0.45, 0.35),
    # -- activities and moments: excited --------------------------------------------------------------------------
    "party": (0.70, 0.85), "partying": (0.70, 0.85), "dance": (0.60, 0.80), "dancing": (0.60, 0.80),
    "dancefloor": (0.60, 0.85), "club": (0.50, 0.85), "clubbing": (0.50, 0.85), "rave": (0.45, 0.90),
    "workout": (0.35, 0.85), "gym": (0.30, 0.85), "training": (0.30, 0.80), "running": (0.35, 0.80),
    "run": (0.35, 0.80), "cardio": (0.35, 0.85), "pump up": (0.40, 0.90), "hype": (0.45, 0.85),
    "pregame": (0.55, 0.80), "friday night": (0.55, 0.70), "saturday night": (0.60, 0.75), "weekend": (0.60, 0.50),
    "beach": (0.65, 0.35), "pool party": (0.70, 0.70), "festival": (0.60, 0.75), "roadtrip anthems": (0.60, 0.60),
    "anthem": (0.50, 0.70), "anthems": (0.50, 0.70), "summer hits": (0.65, 0.55), "karaoke": (0.60, 0.60),
    "getting ready": (0.55, 0.55), "morning energy": (0.50, 0.60), "wake up": (0.45, 0.55), "motivation": (0.45, 0.70),
    "motivational": (0.45, 0.70), "power": (0.25, 0.80), "beast mode": (0.15, 0.90),
    # -- musical descriptions: excited ----------------------------------------------------------------------------
    "upbeat": (0.65, 0.70), "energetic": (0.40, 0.90), "energy": (0.40, 0.85), "high energy": (0.40, 0.90),
    "fast": (0.20, 0.80), "bouncy": (0.65, 0.65), "groovy": (0.55, 0.45), "groove": (0.45, 0.35),
    "funky": (0.55, 0.50), "danceable": (0.55, 0.70), "catchy pop": (0.55, 0.50), "electric": (0.40, 0.80),
    "wild": (0.30, 0.85), "loud": (0.00, 0.80), "epic": (0.35, 0.75), "driving": (0.20, 0.70), "pumping": (0.40, 0.85),
    "banger": (0.50, 0.85), "bangers": (0.50, 0.85), "powerful": (0.25, 0.75), "anthemic": (0.45, 0.70),
    # -- feelings: pleasant, calm ---------------------------------------------------------------------------------
    "calm": (0.35, -0.75), "calming": (0.35, -0.75), "peaceful": (0.50, -0.70), "peace": (0.50, -0.65),
    "serene": (0.50, -0.75), "tranquil": (0.45, -0.75), "relaxed": (0.45, -0.65), "relaxing": (0.45, -0.65),
    "relax": (0.45, -0.65), "content": (0.50, -0.35), "cozy": (0.55, -0.50), "cosy": (0.55, -0.50),
    "comfort": (0.40, -0.45), "comforting": (0.40, -0.45), "soothing": (0.40, -0.70), "gentle": (0.35, -0.60),
    "tender": (0.45, -0.35), "warm": (0.55, -0.25), "soft": (0.25, -0.50), "dreamy": (0.35, -0.45),
    "blissful": (0.70, -0.10), "bliss": (0.70, -0.10), "nostalgic": (0.10, -0.30), "nostalgia": (0.10, -0.30),
    "sentimental": (0.10, -0.30), "intimate": (0.35, -0.35), "hygge": (0.55, -0.50), "mindful": (0.35, -0.65),
    "meditative": (0.30, -0.80), "zen": (0.40, -0.75), "healing": (0.40, -0.55),
    # -- activities and moments: calm ------------------------------------------------------------------------------
    "chill": (0.40, -0.50), "chilled": (0.40, -0.50), "chillout": (0.40, -0.55), "chill out": (0.40, -0.55),
    "chill vibes": (0.45, -0.50), "lounge": (0.35, -0.40), "sleep": (0.15, -0.90), "sleeping": (0.15, -0.90),
    "bedtime": (0.20, -0.85), "lullaby": (0.35, -0.85), "lullabies": (0.35, -0.85), "nap": (0.25, -0.85),
    "study": (0.15, -0.45), "studying": (0.15, -0.45), "focus": (0.10, -0.25), "concentration": (0.10, -0.30),
    "reading": (0.20, -0.55), "coffee": (0.40, -0.25), "coffeehouse": (0.40, -0.30), "cafe": (0.40, -0.30),
    "sunday": (0.45, -0.40), "sunday morning": (0.50, -0.45), "lazy sunday": (0.50, -0.55), "morning": (0.40, -0.10),
    "sunset": (0.45, -0.30), "sunrise": (0.50, -0.15), "evening": (0.30, -0.35), "dinner": (0.40, -0.30),
    "cooking": (0.45, 0.05), "yoga": (0.35, -0.70), "meditation": (0.30, -0.80), "spa": (0.40, -0.75),
    "massage": (0.40, -0.75), "bath": (0.40, -0.65), "candlelight": (0.45, -0.55), "wine": (0.40, -0.30),
    "slow dance": (0.50, -0.20), "wedding": (0.70, 0.20), "date night": (0.55, -0.05), "picnic": (0.60, 0.05),
    "spring": (0.55, 0.10), "garden": (0.45, -0.40), "beach chill": (0.50, -0.45), "vacation": (0.60, 0.25),
    "holiday": (0.60, 0.30), "christmas": (0.60, 0.10), "campfire": (0.45, -0.35),
    # -- musical descriptions: calm -------------------------------------------------------------------------------
    "mellow": (0.30, -0.60), "smooth": (0.30, -0.20), "easy": (0.30, -0.35), "easy listening": (0.35, -0.45),
    "laid back": (0.40, -0.45), "laidback": (0.40, -0.45), "slow": (-0.05, -0.60), "quiet": (0.15, -0.70),
    "acoustic": (0.20, -0.45), "unplugged": (0.20, -0.45), "instrumental": (0.10, -0.40), "piano": (0.15, -0.50),
    "ambient": (0.05, -0.60), "atmospheric": (0.00, -0.40), "ethereal": (0.25, -0.50), "downtempo": (0.10, -0.50),
    "lofi": (0.20, -0.60), "lo fi": (0.20, -0.60), "jazzy": (0.35, -0.20), "breezy": (0.55, -0.10),
    "floaty": (0.30, -0.50), "hazy": (0.15, -0.40), "lush": (0.45, -0.20), "minimal": (0.05, -0.30),
    # -- near neutral ----------------------------------------------------------------------------------------------
    "steady": (0.05, 0.05), "background": (0.10, -0.35), "work": (0.10, -0.10), "commute": (0.10, 0.05),
    "rain": (-0.15, -0.50), "cloudy": (-0.15, -0.30), "autumn": (-0.05, -0.30), "fall": (-0.05, -0.30),
    "reflective": (-0.05, -0.40), "introspective": (-0.10, -0.40), "pensive": (-0.15, -0.40),
    "thoughtful": (0.05, -0.40), "bittersweet": (-0.15, -0.25), "wistful": (-0.20, -0.35), "mysterious": (-0.10, 0.15),
    "late night": (-0.05, -0.30), "night": (-0.05, -0.20), "midnight": (-0.10, -0.15), "night drive": (0.05, 0.10),
    "3am": (-0.25, -0.35), "winter": (-0.05, -0.35), "solitude": (-0.20, -0.50),
    # -- feelings: unpleasant, calm -------------------------------------------------------------------------------
    "sad": (-0.65, -0.30), "sadness": (-0.65, -0.30), "saddest": (-0.70, -0.30), "sad songs": (-0.65, -0.30),
    "unhappy": (-0.60, -0.20), "melancholy": (-0.50, -0.45), "melancholic": (-0.50, -0.45), "gloomy": (-0.50, -0.40),
    "somber": (-0.50, -0.50), "sombre": (-0.50, -0.50), "lonely": (-0.60, -0.40), "loneliness": (-0.60, -0.40),
    "alone": (-0.45, -0.40), "depressing": (-0.70, -0.35), "depressed": (-0.70, -0.40), "depression": (-0.70, -0.40),
    "heartbreak": (-0.70, -0.05), "heartbroken": (-0.70, -0.10), "broken heart": (-0.70, -0.10),
    "breakup": (-0.60, 0.00), "break up": (-0.60, 0.00), "tears": (-0.70, 0.00), "crying": (-0.70, 0.05),
    "cry": (-0.65, 0.00), "grief": (-0.75, -0.20), "mourning": (-0.70, -0.35), "sorrow": (-0.70, -0.30),
    "blue": (-0.40, -0.30), "blues mood": (-0.45, -0.30), "down": (-0.45, -0.35), "rainy": (-0.30, -0.50),
    "rainy day": (-0.30, -0.50), "rainy days": (-0.30, -0.50), "longing": (-0.40, -0.20), "yearning": (-0.40, -0.15),
    "regret": (-0.55, -0.15), "hurt": (-0.60, 0.05), "pain": (-0.60, 0.10), "painful": (-0.60, 0.10),
    "miss you": (-0.45, -0.20), "goodbye": (-0.40, -0.25), "empty": (-0.50, -0.50), "hopeless": (-0.70, -0.30),
    "tired": (-0.30, -0.65), "weary": (-0.35, -0.60), "exhausted": (-0.35, -0.65), "bleak": (-0.55, -0.40),
    "desolate": (-0.55, -0.45), "dreary": (-0.45, -0.45), "mournful": (-0.65, -0.40), "sad piano": (-0.55, -0.50),
    "emo": (-0.45, 0.35), "moody": (-0.30, -0.05), "dark ambient": (-0.40, -0.40), "drone": (-0.20, -0.50),
    # -- feelings: unpleasant, excited ----------------------------------------------------------------------------
    "angry": (-0.60, 0.75), "anger": (-0.60, 0.75), "rage": (-0.70, 0.90), "furious": (-0.70, 0.85),
    "fury": (-0.70, 0.85), "mad": (-0.55, 0.70), "pissed": (-0.60, 0.75), "hate": (-0.70, 0.65),
    "hatred": (-0.75, 0.65), "aggressive": (-0.45, 0.85), "aggression": (-0.45, 0.85), "violent": (-0.60, 0.85),
    "brutal": (-0.50, 0.90), "heavy": (-0.30, 0.75), "hard": (-0.20, 0.75), "harsh": (-0.40, 0.75),
    "intense": (-0.20, 0.80), "chaotic": (-0.35, 0.85), "frantic": (-0.30, 0.85), "manic": (-0.20, 0.85),
    "tense": (-0.40, 0.60), "tension": (-0.40, 0.60), "anxious": (-0.55, 0.60), "anxiety": (-0.55, 0.60),
    "nervous": (-0.40, 0.55), "fear": (-0.65, 0.60), "scary": (-0.60, 0.55), "creepy": (-0.50, 0.35),
    "eerie": (-0.40, 0.20), "horror": (-0.65, 0.55), "sinister": (-0.55, 0.40), "menacing": (-0.55, 0.55),
    "ominous": (-0.45, 0.30), "dark": (-0.45, 0.30), "darkness": (-0.45, 0.25), "evil": (-0.65, 0.50),
    "haunting": (-0.35, 0.05), "bitter": (-0.55, 0.20), "spiteful": (-0.60, 0.50), "revenge": (-0.55, 0.65),
    "defiant": (-0.15, 0.55), "rebellious": (-0.10, 0.65), "rebel": (-0.10, 0.65), "protest": (-0.25, 0.60),
    "frustrated": (-0.50, 0.55), "frustration": (-0.50, 0.55), "annoyed": (-0.45, 0.45), "stressed": (-0.55, 0.55),
    "stress": (-0.55, 0.55), "paranoid": (-0.55, 0.55), "disturbing": (-0.60, 0.45), "noisy": (-0.25, 0.80),
    "gritty": (-0.25, 0.55), "raw": (-0.20, 0.60), "angst": (-0.50, 0.55), "angsty": (-0.50, 0.55),
    "cathartic": (-0.20, 0.70), "vent": (-0.45, 0.65), "venting": (-0.45, 0.65), "headbang": (-0.15, 0.90),
    "mosh": (-0.20, 0.90), "moshpit": (-0.20, 0.90), "villain": (-0.45, 0.55), "war": (-0.60, 0.75),
    "storm": (-0.30, 0.60), "stormy": (-0.30, 0.55), "fire": (0.05, 0.75), "burn": (-0.25, 0.70),
}
# Tags that are ours to read but often say more about the genre than the mood: they count half.
WEAK_TAGS = {"dark", "heavy", "hard", "acoustic", "piano", "instrumental", "ambient", "summer", "winter", "night",
             "morning", "love", "blue", "fire", "power", "cool", "work", "background", "fall", "autumn", "spring"}
TOKEN = re.compile(r"[a-z0-9']+")
LONGEST = max(len(phrase.split()) for phrase in LEXICON)


def _normal(word: str) -> str:
    return word.replace("'", "")


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def place(text: str) -> tuple[MoodPoint, list[str]] | None:
    """The point of the mood words in a text (a tag, a playlist's name), with the words found; None when it says
    nothing about mood. Longest phrases first ("sad songs" before "sad"), plurals folded ("rainy days")."""
    words = [_normal(w) for w in TOKEN.findall(text.lower().replace("-", " ").replace("_", " "))]
    found: list[str] = []
    i = 0
    while i < len(words):
        for size in range(min(LONGEST, len(words) - i), 0, -1):
            phrase = " ".join(words[i:i + size])
            key = phrase if phrase in LEXICON else " ".join(_singular(w) for w in words[i:i + size])
            if key in LEXICON:
                found.append(key)
                i += size
                break
        else:
            i += 1
    if not found:
        return None
    weights = [0.5 if w in WEAK_TAGS else 1.0 for w in found]
    total = sum(weights)
    valence = sum(LEXICON[w][0] * k for w, k in zip(found, weights)) / total
    arousal = sum(LEXICON[w][1] * k for w, k in zip(found, weights)) / total
    return MoodPoint(valence, arousal), found
