"""The music store: a killed writer, a corrupt file, two processes at once, an old schema, restarts."""
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing

import pytest

from emotion_dj.music import store as store_module
from emotion_dj.music.store import MIGRATIONS, SCHEMA_VERSION, DJOutcome, MusicStore, Play, StoreError
from tests.conftest import ROOT


def plays(n: int, tag: str = "t") -> list[Play]:
    return [Play(f"spotify:track:{tag}{i:04d}", f"Song {i}", f"Artist {i % 7}", f"mellow {tag}", mood="sad",
                 valence=-0.6, arousal=-0.3, playlist="https://open.spotify.com/playlist/x") for i in range(n)]


def python(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_history_survives_a_restart_and_forget_clears_it(tmp_path):
    path = tmp_path / "music.sqlite3"
    MusicStore(path).record(plays(5), when=1000.0)
    MusicStore(path).save_taste({"genres": {"soul": 1.0}, "artists": {}}, when=1000.0)
    again = MusicStore(path)  # a new process would do exactly this
    assert sorted(p.uri for p in again.history()) == sorted(p.uri for p in plays(5))
    assert again.recent_uris(days=1, now=1000.0 + 3600) == {p.uri for p in plays(5)}
    assert again.recent_uris(days=1, now=1000.0 + 2 * 86400) == set()  # older than the variety window
    assert again.taste()[0]["genres"] == {"soul": 1.0}
    assert again.forget() == 5
    assert MusicStore(path).history() == [] and MusicStore(path).taste() is None


def test_a_process_killed_mid_write_loses_only_the_playlist_it_was_writing(tmp_path):
    path = tmp_path / "music.sqlite3"
    MusicStore(path).record(plays(20, "a"))
    # The second playlist is written in its own transaction; SIGKILL lands after half of its rows.
    done = python(f"""
        import os, signal
        from emotion_dj.music import store as s
        st = s.MusicStore({str(path)!r})
        with st._db(write=True) as db:
            for i in range(10):
                db.execute("INSERT INTO plays (uri, title, artist, played_at, mood, valence, arousal, phrase) "
                           "VALUES (?, 'x', 'y', 1, 'sad', 0, 0, 'p')", (f"spotify:track:b{{i}}",))
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert done.returncode == -9
    store = MusicStore(path)
    uris = {p.uri for p in store.history(100)}
    assert uris == {p.uri for p in plays(20, "a")}  # the first playlist whole, nothing of the second
    store.record(plays(3, "c"))  # and the file takes writes again
    assert len(store.history(100)) == 23
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _damaged_own_store(path) -> bytes:
    """A store of the app's own whose schema page is garbage after its header: it still says whose it is."""
    MusicStore(path).record(plays(30))
    good = bytearray(path.read_bytes())
    good[100:4096] = b"\xa5" * (4096 - 100)
    path.write_bytes(bytes(good))
    return bytes(good)


def test_a_damaged_store_of_the_apps_own_is_moved_aside_in_one_line_and_a_fresh_one_started(tmp_path, caplog):
    path = tmp_path / "music.sqlite3"
    damaged = _damaged_own_store(path)
    store = MusicStore(path)
    store.record(plays(2))
    assert len(store.history()) == 2
    aside = [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and (tmp_path / aside[0]).read_bytes() == damaged  # kept, for whoever wants it
    lines = [r.getMessage() for r in caplog.records if "music store" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert re.fullmatch(r"music\.sqlite3\.corrupt-\d{8}-\d{6}", aside[0])  # when it went, to the second
    assert f"the music store {path} was unreadable (" in lines[0] and f"moved it to {aside[0]}" in lines[0]


@pytest.mark.parametrize("garbage", [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000,
                                     b"notes\n"])
def test_a_file_that_is_not_the_apps_is_refused_in_one_line_and_left_byte_for_byte(tmp_path, garbage):
    path = tmp_path / "music.sqlite3"
    path.write_bytes(garbage)
    path.chmod(0o644)
    with pytest.raises(StoreError) as raised:
        MusicStore(path).record(plays(2))
    assert str(raised.value).startswith(f"{path} is not Emotion DJ's music store (")
    assert str(raised.value).endswith("): left as it is; move it away, or set EMOTION_DJ_DATA to another folder")
    assert path.read_bytes() == garbage and path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["music.sqlite3"]  # nothing moved, no journal left


def test_two_processes_write_at_once_and_nothing_is_lost(tmp_path):
    path = tmp_path / "music.sqlite3"
    writer = textwrap.dedent(f"""
        import sys
        from emotion_dj.music.store import MusicStore, Play
        store = MusicStore({str(path)!r})
        for n in range(40):
            store.record([Play(f"spotify:track:{{sys.argv[1]}}{{n}}-{{i}}", "t", "a", "p") for i in range(5)])
            store.recent_uris(14)
        print("ok")
    """)
    both = [subprocess.Popen([sys.executable, "-c", writer, name], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for name in ("app", "fleet")]
    results = [p.communicate(timeout=120) for p in both]
    assert [p.returncode for p in both] == [0, 0], [err for _, err in results]
    assert len(MusicStore(path).history(1000)) == 2 * 40 * 5


def test_a_new_file_switched_to_wal_by_another_process_at_the_same_moment_is_waited_for(tmp_path, monkeypatch):
    # Two processes switching a new file to WAL together: SQLite tells one "database is locked" at once, without the
    # busy timeout (deadlock avoidance). CI saw it once in the test above; here the lost race is made to happen.
    answers = iter([sqlite3.OperationalError("database is locked")] * 3)

    class LosesTheRace(sqlite3.Connection):
        def execute(self, sql, *args):
            if sql.startswith("PRAGMA journal_mode"):
                error = next(answers, None)
                if error is not None:
                    raise error
            return super().execute(sql, *args)

    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, factory=LosesTheRace, **k))
    store = MusicStore(tmp_path / "music.sqlite3")
    store.record(plays(2))
    assert len(store.history()) == 2
    with sqlite3.connect(tmp_path / "music.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_older_schema_is_migrated_and_keeps_its_rows(tmp_path):
    path = tmp_path / "music.sqlite3"
    with sqlite3.connect(path) as db:  # a file written by the first release: schema 1 only
        db.executescript(MIGRATIONS[0])
        db.execute("INSERT INTO plays (uri, title, artist, played_at, mood, valence, arousal, phrase) "
                   "VALUES ('spotify:track:old', 'Old Song', 'Old Artist', 5.0, 'happy', 0.8, 0.5, 'happy upbeat')")
        db.execute("INSERT INTO taste (id, fetched_at, profile) VALUES (1, 5.0, ?)", (json.dumps({"genres": {"jazz": 1}}),))
        db.execute("PRAGMA user_version = 1")
    store = MusicStore(path)
    (old,) = store.history()
    assert (old.uri, old.title, old.phrase, old.playlist) == ("spotify:track:old", "Old Song", "happy upbeat", "")
    assert store.taste()[0] == {"genres": {"jazz": 1}}
    store.set_meta("k", "v")  # schema 2's table exists
    assert store.arm_counts("neutral") == {}  # and schema 3's
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_from_a_newer_app_is_refused_not_altered(tmp_path):
    path = tmp_path / "music.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
        db.execute(f"PRAGMA application_id = {store_module.APPLICATION_ID}")  # marked, as every newer store is
    with pytest.raises(StoreError, match="newer Emotion DJ"):
        MusicStore(path).history()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 99


def test_the_history_command_lists_and_forgets(tmp_path):
    env_code = f"""
        import os, sys
        os.environ["EMOTION_DJ_DATA"] = {str(tmp_path)!r}
        from emotion_dj.cli import main
        sys.exit(main(sys.argv[1:]))
    """
    MusicStore(tmp_path / "music.sqlite3").record(plays(3))
    listed = subprocess.run([sys.executable, "-c", textwrap.dedent(env_code), "history"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("\n") == 3 and "Song 2 - Artist 2" in listed.stdout and "[mellow t]" in listed.stdout
    forgot = subprocess.run([sys.executable, "-c", textwrap.dedent(env_code), "history", "--forget"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert forgot.returncode == 0 and "forgot 3" in forgot.stdout
    assert MusicStore(tmp_path / "music.sqlite3").history() == []


def test_history_dj_shows_what_worked_per_region(tmp_path):
    store = MusicStore(tmp_path / "music.sqlite3")
    for won in (True, True, False):
        store.record_dj(DJOutcome("spotify:track:x", 1.0, "unpleasant-calm", "genre", 'genre:"soul" mellow', "calm",
                                  (-0.6, -0.3), (-0.2, -0.4), False, won))
    code = f"""
        import os, sys
        os.environ["EMOTION_DJ_DATA"] = {str(tmp_path)!r}
        from emotion_dj.cli import main
        sys.exit(main(["history", "--dj"]))
    """
    shown = python(code)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["unpleasant-calm", "genre", "2/3", "tracks", "worked", "(67%)"]


# -- each rule of the store on its own, in-process (mutation testing sees these; docs/TESTING.md) --------------------

def test_the_variety_window_includes_its_first_second_and_nothing_older(tmp_path):
    store = MusicStore(tmp_path / "music.sqlite3")
    store.record(plays(1, "edge"), when=1000.0)
    store.record(plays(1, "old"), when=999.0)
    # 1 day later exactly: the edge track is still inside the window, the one a second older is out
    assert store.recent_uris(days=1, now=1000.0 + 86400) == {"spotify:track:edge0000"}
    assert store.recent_uris(days=0.5, now=1000.0 + 43200) == {"spotify:track:edge0000"}


def test_history_is_newest_first_fifty_by_default_and_keeps_each_plays_own_time(tmp_path):
    store = MusicStore(tmp_path / "music.sqlite3")
    assert store.record(plays(60, "a"), when=100.0) == 60
    store.record([Play("spotify:track:own", "Own", "Me", "p", played_at=50.0)], when=200.0)
    store.record(plays(1, "new"), when=300.0)
    shown = store.history()
    assert len(shown) == 50
    assert shown[0].uri == "spotify:track:new0000" and shown[0].played_at == 300.0
    # plays of one playlist share a time: the later-written row comes first
    assert [p.uri for p in shown[1:3]] == ["spotify:track:a0059", "spotify:track:a0058"]
    assert store.history(100)[-1] == Play("spotify:track:own", "Own", "Me", "p", played_at=50.0)  # its time, not 200
    first = store.history(100)[1]
    assert (first.mood, first.valence, first.arousal, first.playlist) == ("sad", -0.6, -0.3,
                                                                         "https://open.spotify.com/playlist/x")


def test_forget_clears_the_djs_learning_too_and_leaves_nothing_in_the_file(tmp_path):
    path = tmp_path / "music.sqlite3"
    store = MusicStore(path)
    store.record(plays(200, "secret"))
    full = path.stat().st_size
    store.record_dj(DJOutcome("spotify:track:secret0001", 1.0, "neutral", "mood", "calm", "match", (0, 0), (0, 0),
                              False, True))
    assert store.forget() == 200
    assert store.arm_counts("neutral") == {} and store.dj_summary() == []
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM dj_plays").fetchone()[0] == 0
    # VACUUM: the file shrinks, and the deleted rows are gone from its bytes (also where SQLite was built without
    # secure delete), not only from the index
    assert path.stat().st_size < full and b"secret0001" not in path.read_bytes()


def test_a_dj_outcome_is_stored_as_played_and_counted_once_per_region_and_arm(tmp_path):
    path = tmp_path / "music.sqlite3"
    store = MusicStore(path)
    store.record_dj(DJOutcome("spotify:track:a", 7.0, "pleasant-calm", "taste", "soul mellow", "calm", (0.1, -0.2),
                              (0.3, -0.4), True, False))
    store.record_dj(DJOutcome("spotify:track:b", 8.0, "pleasant-calm", "taste", "soul mellow", "calm", (0, 0), (0, 0),
                              False, True))
    store.record_dj(DJOutcome("spotify:track:c", 9.0, "neutral", "taste", "x", "match", (0, 0), (0, 0), False, True))
    assert store.arm_counts("pleasant-calm") == {"taste": (1, 1)}
    assert store.dj_summary() == [("neutral", "taste", 1, 0), ("pleasant-calm", "taste", 1, 1)]
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT uri, started_at, region, arm, phrase, target, before_valence, before_arousal, "
                         "during_valence, during_arousal, skipped, success FROM dj_plays ORDER BY id").fetchone()
    assert row == ("spotify:track:a", 7.0, "pleasant-calm", "taste", "soul mellow", "calm", 0.1, -0.2, 0.3, -0.4, 1, 0)


def test_taste_and_facts_read_back_and_an_unreadable_profile_is_no_profile(tmp_path):
    path = tmp_path / "music.sqlite3"
    store = MusicStore(path)
    assert store.taste() is None and store.meta("asked") is None
    store.save_taste({"genres": {"funk": 0.5}}, when=123.0)
    assert store.taste() == ({"genres": {"funk": 0.5}}, 123.0)
    store.set_meta("asked", "1")
    store.set_meta("asked", "2")
    assert store.meta("asked") == "2"
    with sqlite3.connect(path) as db:
        db.execute("UPDATE taste SET profile = '{not json'")
    assert store.taste() is None  # fetched again, rather than the app stopping


def test_a_data_folder_that_cannot_be_made_is_one_line_naming_the_setting(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(StoreError) as raised:
        MusicStore(tmp_path / "a-file" / "music.sqlite3").history()
    assert str(raised.value) == (f"cannot create the data folder {tmp_path / 'a-file'}: File exists "
                                 "(set EMOTION_DJ_DATA to a writable folder)")


def test_a_file_locked_by_another_process_is_waited_for_then_reported_not_moved_aside(tmp_path, monkeypatch):
    path = tmp_path / "music.sqlite3"
    MusicStore(path).record(plays(3))
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 300)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError) as raised:
            MusicStore(path).history()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert str(raised.value) == (f"the music store {path} stayed locked by another program for 0.3 s (database is "
                                 "locked): close it, or set EMOTION_DJ_DATA to another folder")
    assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]  # a busy file is not a corrupt one
    assert len(MusicStore(path).history()) == 3


def test_a_write_that_waits_out_the_lock_is_reported_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    path = tmp_path / "music.sqlite3"
    store = MusicStore(path)
    store.record(plays(3))  # opened once, so the lock below meets the write itself, not the opening
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 300)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="stayed locked by another program for 0.3 s"):
            store.record(plays(2, "late"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(store.history()) == 3


def test_a_store_sqlite_cannot_open_is_reported_and_left_where_it_is(tmp_path):
    (tmp_path / "music.sqlite3").mkdir()  # a directory in the file's place
    with pytest.raises(StoreError) as raised:
        MusicStore(tmp_path / "music.sqlite3").record(plays(1))
    assert str(raised.value) == (f"cannot open the music store {tmp_path / 'music.sqlite3'} (unable to open database "
                                 "file): set EMOTION_DJ_DATA to a writable folder")
    assert [p.name for p in tmp_path.iterdir()] == ["music.sqlite3"] and (tmp_path / "music.sqlite3").is_dir()


def test_the_history_command_on_a_locked_or_unopenable_store_is_one_line_and_exit_2(tmp_path):
    code = """
        import os, sys
        os.environ["EMOTION_DJ_DATA"] = sys.argv[1]
        from emotion_dj.music import store
        store.BUSY_TIMEOUT_MS = 300
        from emotion_dj.cli import main
        sys.exit(main(["history"]))
    """
    locked = tmp_path / "locked"
    MusicStore(locked / "music.sqlite3").record(plays(1))
    holder = sqlite3.connect(locked / "music.sqlite3", isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        busy = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(locked)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (busy.returncode, busy.stdout) == (2, ""), busy.stderr
    assert busy.stderr.splitlines() == [f"error: the music store {locked / 'music.sqlite3'} stayed locked by another "
                                        "program for 0.3 s (database is locked): close it, or set EMOTION_DJ_DATA "
                                        "to another folder"]
    folder = tmp_path / "a-folder-in-its-place"
    (folder / "music.sqlite3").mkdir(parents=True)  # SQLite cannot open a directory as its file
    unopenable = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(folder)], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
    assert (unopenable.returncode, unopenable.stdout) == (2, ""), unopenable.stderr
    assert unopenable.stderr.splitlines() == [f"error: cannot open the music store {folder / 'music.sqlite3'} "
                                              "(unable to open database file): set EMOTION_DJ_DATA to a writable folder"]
    assert (folder / "music.sqlite3").is_dir()  # left as it was, not moved aside


def test_a_file_that_fails_the_quick_check_is_moved_aside_with_the_checks_first_line(tmp_path, caplog):
    path = tmp_path / "music.sqlite3"
    MusicStore(path).record(plays(300, "long-enough-to-fill-several-pages-"))
    good = path.read_bytes()
    for offset in range(4096, len(good)):  # the first byte whose flip SQLite opens but its quick check reports
        broken = bytearray(good)
        broken[offset] ^= 0xFF
        path.write_bytes(bytes(broken))
        with closing(sqlite3.connect(path)) as db:
            try:
                if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    break
            except sqlite3.DatabaseError:
                pass
    else:
        pytest.fail("no single-byte flip that only the quick check sees")
    assert MusicStore(path).history() == []  # a fresh file
    (line,) = [r.getMessage() for r in caplog.records if "music store" in r.getMessage()]
    assert "(quick_check: *** in database main ***)" in line


def test_a_stale_journal_beside_a_damaged_store_goes_with_it(tmp_path):
    path = tmp_path / "music.sqlite3"
    _damaged_own_store(path)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"music.sqlite3{suffix}").write_bytes(b"STALE" * 1000)
    store = MusicStore(path)
    store.record(plays(2))
    assert len(store.history()) == 2
    for suffix in ("-wal", "-shm"):
        journal = tmp_path / f"music.sqlite3{suffix}"
        assert not journal.exists() or b"STALE" not in journal.read_bytes()


@pytest.mark.parametrize("linked", [False, True])
def test_another_programs_database_under_the_name_is_refused_and_left_byte_for_byte(tmp_path, linked):
    theirs = tmp_path / ("theirs.db" if linked else "music.sqlite3")
    with closing(sqlite3.connect(theirs)) as db:  # someone's own "plays" table, and no mark of the app's
        db.execute("CREATE TABLE plays (theirs TEXT)")
        db.execute("INSERT INTO plays VALUES ('their row')")
        db.commit()
    path = tmp_path / "music.sqlite3"
    if linked:
        path.symlink_to(theirs)
    before = theirs.read_bytes()
    with pytest.raises(StoreError, match="it is another program's database"):
        MusicStore(path).record(plays(1))
    assert theirs.read_bytes() == before and not [p for p in tmp_path.iterdir() if "corrupt" in p.name or "-wal" in p.name]
    with closing(sqlite3.connect(theirs)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_a_store_is_marked_as_the_apps_and_one_from_before_the_mark_is_known_by_its_schema(tmp_path):
    path = tmp_path / "music.sqlite3"
    MusicStore(path).record(plays(2))
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == store_module.APPLICATION_ID
        db.execute("PRAGMA application_id = 0")  # as the last release wrote it
        db.commit()
    assert len(MusicStore(path).history()) == 2
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == store_module.APPLICATION_ID


def test_the_store_and_the_data_folder_it_makes_are_private_whatever_the_umask(tmp_path):
    named = tmp_path / "named"
    named.mkdir(mode=0o755)
    named.chmod(0o755)
    old = os.umask(0o000)
    try:
        MusicStore(tmp_path / "made" / "music.sqlite3").record(plays(1))
        MusicStore(named / "music.sqlite3").record(plays(1))
    finally:
        os.umask(old)
    assert (tmp_path / "made").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "made" / "music.sqlite3").stat().st_mode & 0o777 == 0o600
    assert named.stat().st_mode & 0o777 == 0o755  # a folder the user named is never chmodded
    assert (named / "music.sqlite3").stat().st_mode & 0o777 == 0o600


def test_the_store_is_prepared_once_per_object_and_made_in_a_new_nested_folder(tmp_path, monkeypatch):
    store = MusicStore(tmp_path / "a" / "b" / "c" / "music.sqlite3")
    calls = []
    migrate = store._migrate
    monkeypatch.setattr(store, "_migrate", lambda: (calls.append(1), migrate()))
    store.record(plays(2))
    store.history()
    store.recent_uris(1)
    assert len(calls) == 1  # the quick check and the schema once, not on every call


def test_the_default_file_is_in_the_data_folder_the_setting_names(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOTION_DJ_DATA", str(tmp_path / "mine"))
    assert MusicStore().path == tmp_path / "mine" / "music.sqlite3"


def test_a_taste_saved_without_a_time_is_stamped_now(tmp_path):
    store = MusicStore(tmp_path / "music.sqlite3")
    before = time.time()
    store.save_taste({"genres": {}})
    assert before <= store.taste()[1] <= time.time()


def _refuse_on(path, sql_trigger: str) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"CREATE TRIGGER refuse {sql_trigger} BEGIN SELECT RAISE(ABORT, 'refused'); END")
        db.commit()


def test_a_playlist_that_fails_halfway_is_not_written_at_all(tmp_path):
    path = tmp_path / "music.sqlite3"
    store = MusicStore(path)
    store.record(plays(1, "before"))
    _refuse_on(path, "BEFORE INSERT ON plays WHEN NEW.uri = 'spotify:track:half0005'")
    with pytest.raises(sqlite3.IntegrityError):
        store.record(plays(10, "half"))
    assert [p.uri for p in store.history()] == ["spotify:track:before0000"]


def test_a_dj_outcome_and_its_count_are_written_together_or_not_at_all(tmp_path):
    path = tmp_path / "music.sqlite3"
    store = MusicStore(path)
    store.history()
    _refuse_on(path, "BEFORE INSERT ON dj_arms")
    with pytest.raises(sqlite3.IntegrityError):
        store.record_dj(DJOutcome("spotify:track:a", 1.0, "neutral", "mood", "p", "match", (0, 0), (0, 0), False, True))
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM dj_plays").fetchone()[0] == 0


def test_forget_is_all_or_nothing(tmp_path):
    path = tmp_path / "music.sqlite3"
    store = MusicStore(path)
    store.record(plays(3))
    store.record_dj(DJOutcome("spotify:track:a", 1.0, "neutral", "mood", "p", "match", (0, 0), (0, 0), False, True))
    _refuse_on(path, "BEFORE DELETE ON dj_arms")
    with pytest.raises(sqlite3.IntegrityError):
        store.forget()
    assert len(store.history()) == 3 and store.arm_counts("neutral") == {"mood": (1, 0)}


def test_a_migration_another_process_began_is_finished_not_abandoned(tmp_path, monkeypatch):
    # Between this process reading "schema 0" and taking the write lock, another one applies step 1 only (it was
    # killed then, say). This one must skip step 1 and still apply the rest.
    path = tmp_path / "music.sqlite3"
    raced = []
    connect = sqlite3.connect

    class Raced(sqlite3.Connection):
        def execute(self, sql, *args):
            if sql == "BEGIN IMMEDIATE" and not raced:
                raced.append(1)
                with closing(connect(path, isolation_level=None)) as other:
                    other.executescript(MIGRATIONS[0])
                    other.execute("PRAGMA user_version = 1")
            return super().execute(sql, *args)

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, factory=Raced, **k))
    store = MusicStore(path)
    store.set_meta("k", "v")  # schema 2's table
    assert store.arm_counts("neutral") == {}  # schema 3's
    assert raced and not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    with closing(connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_switching_to_wal_gives_up_on_other_errors_at_once_and_on_a_lock_after_the_timeout(tmp_path, monkeypatch):
    answer = {"error": "disk I/O error"}
    tries = []

    class Refuses(sqlite3.Connection):
        def execute(self, sql, *args):
            if sql.startswith("PRAGMA journal_mode"):
                tries.append(1)
                raise sqlite3.OperationalError(answer["error"])
            return super().execute(sql, *args)

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    with closing(sqlite3.connect(tmp_path / "x.sqlite3", factory=Refuses)) as db:
        with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
            MusicStore._use_wal(db)
        assert len(tries) == 1
        answer["error"] = "database is locked"
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            MusicStore._use_wal(db)  # a lock that never goes: retried, then given up when the timeout is spent
        assert len(tries) > 2
