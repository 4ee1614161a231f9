"""One colour per expression, by name, for the live HUD and the mood report alike (RGB hex).

By name rather than by index, so a model with another class list (FER+'s 8 classes add contempt) keeps every
expression's colour; a class not listed here is grey.
"""
from __future__ import annotations

CLASS_COLORS = {
    "angry": "#e63c3c", "disgust": "#3ca03c", "fear": "#aa50aa", "happy": "#fac828", "neutral": "#c8c8c8",
    "sad": "#2882dc", "surprise": "#fa9628", "contempt": "#20b2aa",
}
UNKNOWN_COLOR = "#888888"


def hex_color(name: str) -> str:
    return CLASS_COLORS.get(name, UNKNOWN_COLOR)


def bgr_color(name: str) -> tuple[int, int, int]:
    """The class's colour as OpenCV draws it (blue, green, red)."""
    value = hex_color(name)
    red, green, blue = (int(value[i:i + 2], 16) for i in (1, 3, 5))
    return blue, green, red
