"""Lines that say what happened (reliability round 4, class 12): a TLS address to a plain server, a huge unknown
argument, control characters from the store, a file: API address."""
import logging
import subprocess
import sys

from emotion_dj.music.mood import mood_by_name
from emotion_dj.music.service import PlaylistService
from emotion_dj.music.spotify import SpotifySettings
from emotion_dj.music.store import MusicStore, Play
from tests.conftest import ROOT
from tests.fake_spotify import FakeSpotify
from tests.test_music import settings_for


def test_https_to_a_plain_http_server_is_one_line_that_says_so_and_no_urllib3_warnings(tmp_path, caplog):
    fake = FakeSpotify().start()
    try:
        settings = settings_for(fake, tmp_path)
        settings = SpotifySettings(**{**settings.__dict__, "api_url": settings.api_url.replace("http://", "https://")})
        with caplog.at_level(logging.WARNING):
            outcome = PlaylistService(settings, open_links=False).create(mood_by_name("happy"))
    finally:
        fake.stop()
    assert not outcome.ok and outcome.message.startswith("cannot talk TLS with Spotify (SSL error)")
    assert not [r for r in caplog.records if r.name.startswith("urllib3")]


def test_a_huge_unknown_argument_is_not_echoed_whole(tmp_path):
    done = subprocess.run([sys.executable, "-m", "emotion_dj", "history", "--" + "x" * 100_000], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and len(done.stderr) < 500 and " characters) (see " in done.stderr, done.stderr[:300]


def test_history_never_prints_the_stores_control_characters(tmp_path):
    MusicStore(tmp_path / "music.sqlite3").record([Play("spotify:track:x", "Evil\x1b[2J\x1b]0;pwned\x07 title\nsecond",
                                                         "Art\rist", "phrase\x00")])
    done = subprocess.run([sys.executable, "-m", "emotion_dj", "history"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**__import__("os").environ, "EMOTION_DJ_DATA": str(tmp_path)})
    assert done.returncode == 0 and "Evil" in done.stdout
    assert not any(c in done.stdout for c in "\x1b\x07\r\x00") and done.stdout.count("\n") == 1, repr(done.stdout)
