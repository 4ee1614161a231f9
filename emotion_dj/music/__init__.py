"""Music: the mood a face shows -> a Spotify playlist (or, without credentials, Spotify's web search)."""
