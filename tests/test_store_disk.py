"""The music store on a full disk and on a read-only file system: one line naming the cause, the file left byte for
byte, and the history there again once the disk has room. CI runs as root, so chmod cannot make a store read-only:
each case mounts a small tmpfs in a private mount namespace (`unshare -m`)."""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0 or not shutil.which("unshare"),
                                reason="needs root and unshare(1) for a private tmpfs (Linux CI has both)")

PREPARE = textwrap.dedent("""
    import sys
    from emotion_dj.music.store import MusicStore, Play
    MusicStore().record([Play(f"spotify:track:t{i}", f"Song {i}", "Someone", "mellow", mood="sad") for i in range(5)])
""")


def in_tmpfs(tmp_path, steps: str) -> subprocess.CompletedProcess:
    """`steps` (sh) run with $DATA a fresh 2 MB tmpfs, $PY this Python, in a mount namespace of their own."""
    data = tmp_path / "data"
    data.mkdir()
    script = f"mount -t tmpfs -o size=2m tmpfs \"$DATA\" && cd {ROOT} && {steps}"
    env = {**os.environ, "DATA": str(data), "PY": sys.executable, "EMOTION_DJ_DATA": str(data),
           "PREPARE": PREPARE}
    return subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=120)


def test_a_full_disk_leaves_the_store_as_it_is_and_says_so_and_the_history_is_back_once_there_is_room(tmp_path):
    done = in_tmpfs(tmp_path, """
        "$PY" -c "$PREPARE" && sha256sum "$DATA/music.sqlite3" > "$DATA/../before.sha" &&
        (dd if=/dev/zero of="$DATA/filler" bs=64k 2>/dev/null; true) &&
        echo "== history"; "$PY" -m emotion_dj history; echo "rc=$?";
        echo "== forget"; "$PY" -m emotion_dj history --forget; echo "rc=$?";
        sha256sum "$DATA/music.sqlite3" > "$DATA/../after.sha"; ls "$DATA" > "$DATA/../listing";
        rm "$DATA/filler"; echo "== freed"; "$PY" -m emotion_dj history; echo "rc=$?"
    """)
    out = done.stdout + done.stderr
    assert (tmp_path / "before.sha").read_text() == (tmp_path / "after.sha").read_text(), out
    assert "corrupt" not in (tmp_path / "listing").read_text() and "corrupt" not in out and "Traceback" not in out
    full = done.stderr.splitlines()
    assert len([line for line in full if line.startswith("error: ")]) == 2, out
    assert all("the disk is full" in line and "the file is left as it is" in line for line in full
               if line.startswith("error: ")), out
    history, forget, freed = done.stdout.split("== ")[1:]
    assert "rc=2" in history and "rc=2" in forget and "rc=0" in freed
    assert sum("Song" in line for line in freed.splitlines()) == 5, out


def test_a_read_only_store_is_one_line_naming_the_cause_and_left_byte_for_byte(tmp_path):
    done = in_tmpfs(tmp_path, """
        "$PY" -c "$PREPARE" && sha256sum "$DATA/music.sqlite3" > "$DATA/../before.sha" &&
        mount -o remount,ro "$DATA" &&
        echo "== history"; "$PY" -m emotion_dj history; echo "rc=$?";
        echo "== forget"; "$PY" -m emotion_dj history --forget; echo "rc=$?";
        sha256sum "$DATA/music.sqlite3" > "$DATA/../after.sha"
    """)
    out = done.stdout + done.stderr
    assert (tmp_path / "before.sha").read_text() == (tmp_path / "after.sha").read_text(), out
    assert "Traceback" not in out and "corrupt" not in out
    history, forget = done.stdout.split("== ")[1:]
    # SQLite cannot read a WAL file whose folder is read-only (its -shm cannot be made): both say why
    assert "rc=2" in forget and "rc=2" in history, out
    lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 2 and all("its file system is read-only" in line and "the file is left as it is" in line
                                   for line in lines), out


@pytest.mark.parametrize("trouble", ["full", "read-only"])
def test_a_playlist_is_still_made_on_a_full_or_read_only_store_with_one_line_saying_it_was_not_recorded(tmp_path, trouble):
    from tests.fake_spotify import FakeSpotify
    from tests.test_web import spotify_env

    fake = FakeSpotify().start()
    try:
        block = ('(dd if=/dev/zero of="$DATA/filler" bs=64k 2>/dev/null; true)' if trouble == "full"
                 else 'mount -o remount,ro "$DATA"')
        env = spotify_env(fake, tmp_path)
        exports = " ".join(f"{key}='{value}'" for key, value in env.items())
        done = in_tmpfs(tmp_path, f"""
            "$PY" -c "$PREPARE" && sha256sum "$DATA/music.sqlite3" > "$DATA/../before.sha" && {block} &&
            env {exports} "$PY" -m emotion_dj playlist --mood happy --tracks 5 --no-open; echo "rc=$?";
            sha256sum "$DATA/music.sqlite3" > "$DATA/../after.sha"
        """)
    finally:
        fake.stop()
    out = done.stdout + done.stderr
    assert "rc=0" in done.stdout and len(fake.playlists) == 1, out
    assert (tmp_path / "before.sha").read_text() == (tmp_path / "after.sha").read_text(), out
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("playlist '")]
    assert "with 5 tracks" in line and "; not recorded in the history: cannot use the music store" in line, out
    assert ("the disk is full" if trouble == "full" else "read-only") in line and "Traceback" not in out
