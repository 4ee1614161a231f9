"""Without Spotify credentials: open Spotify's web search for the mood (no API call, no account needed)."""
from __future__ import annotations

from urllib.parse import quote

from emotion_dj.music.mood import Mood

WEB_SEARCH = "https://open.spotify.com/search/"


def web_search_url(mood: Mood) -> str:
    return WEB_SEARCH + quote(mood.web_search)
