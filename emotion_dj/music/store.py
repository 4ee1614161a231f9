"""The music memory: one SQLite file in the user's data folder (docs/PRIVACY.md), standard library only.

It holds every track put in a playlist (when, for which mood point, and why it was chosen), the listener's taste
profile, the day's pool of candidates with their evidence, Last.fm's tags (a month), what the DJ learned (each track
it played with the room's mood before and during it, and each choice's successes per region), and small facts
such as "the taste scopes were asked for once".

Durability, by design:
- WAL mode and a busy timeout, so an app and a fleet can use the file at once (readers never block the writer,
  writers wait their turn for up to BUSY_TIMEOUT_MS instead of failing).
- One transaction per playlist: a process killed mid-write loses that playlist only (SQLite rolls it back).
- `PRAGMA user_version` is the schema's version; MIGRATIONS bring an older file up to date, each step in its own
  transaction. A file from a newer version of the app is refused in one line rather than altered.
- The app touches only a file it made: its databases carry `PRAGMA application_id` (APPLICATION_ID), and older
  ones are known by their schema. Any other file at the store's path (not a database, or another program's
  database) is refused in one line and left byte for byte as it is. A new file is created 0600, and a data folder
  the app creates 0700, whatever the umask; a folder that already exists is never chmodded.
- Only a store of the app's own that fails SQLite's checks is moved aside (`music.sqlite3.corrupt-TIME`), with one
  log line, and a fresh one is started: history is a convenience, never a reason for the app to stop.
- Every fault of the machine rather than of the file (a lock held past the busy timeout, a full disk, a read-only
  file system, a file SQLite cannot open: SQLite's OperationalError) leaves the file as it is and is reported as a
  StoreError naming the cause (one line in `history`, on P and in the DJ).

A connection is opened per operation: the music worker, the DJ and the page's threads each get their own, which
is what sqlite3 wants, and the cost (well under a millisecond) is nothing beside a Spotify request.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from emotion_dj.core.paths import data_root

log = logging.getLogger(__name__)
FILE_NAME = "music.sqlite3"
BUSY_TIMEOUT_MS = 10_000
DAY = 86_400.0
APPLICATION_ID = 0x454D444A  # "EMDJ" in the header: this file is an Emotion DJ music store
SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database
OWN_TABLES = {"plays", "taste"}  # migration 1's tables: a store from before APPLICATION_ID is known by them

# MIGRATIONS[n] takes a file from version n to n + 1. Never edit a released step: add one.
MIGRATIONS: tuple[str, ...] = (
    # 1: what was played, and the taste profile
    """
    CREATE TABLE plays (
        id INTEGER PRIMARY KEY,
        uri TEXT NOT NULL,
        title TEXT NOT NULL,
        artist TEXT NOT NULL,
        played_at REAL NOT NULL,      -- unix time
        mood TEXT NOT NULL,           -- the nearest class's name, for people to read
        valence REAL NOT NULL,        -- the point the track was chosen for
        arousal REAL NOT NULL,
        phrase TEXT NOT NULL          -- the search phrase that found it
    );
    CREATE INDEX plays_uri ON plays(uri);
    CREATE TABLE taste (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        fetched_at REAL NOT NULL,
        profile TEXT NOT NULL         -- JSON, music/taste.py
    );
    """,
    # 2: the playlist (or queue) each track went into, time-ordered history, small facts
    """
    ALTER TABLE plays ADD COLUMN playlist TEXT NOT NULL DEFAULT '';
    CREATE INDEX plays_played_at ON plays(played_at);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 3: what the DJ learns: each track it played, the room before and during it, and each choice's counts
    """
    CREATE TABLE dj_plays (
        id INTEGER PRIMARY KEY,
        uri TEXT NOT NULL,
        started_at REAL NOT NULL,
        region TEXT NOT NULL,         -- music/bandit.py's region of the intended point
        arm TEXT NOT NULL,            -- the phrase choice that found the track
        phrase TEXT NOT NULL,
        target TEXT NOT NULL,         -- match, calm, energize, uplift
        before_valence REAL NOT NULL, before_arousal REAL NOT NULL,
        during_valence REAL NOT NULL, during_arousal REAL NOT NULL,
        skipped INTEGER NOT NULL,
        success INTEGER NOT NULL
    );
    CREATE TABLE dj_arms (
        region TEXT NOT NULL,
        arm TEXT NOT NULL,
        successes INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (region, arm)
    );
    """,
    # 4: the day's pool of candidates (music/pool.py) and Last.fm's tags, each with when it was read
    """
    CREATE TABLE pool (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        fetched_at REAL NOT NULL,
        candidates TEXT NOT NULL      -- JSON, music/evidence Candidate.to_dict()
    );
    CREATE TABLE tags (
        key TEXT PRIMARY KEY,         -- 'artist<US>name' or 'track<US>artist<US>title', lower case
        fetched_at REAL NOT NULL,
        tags TEXT NOT NULL            -- JSON [[tag, count], ...]
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The store cannot be used (a folder that cannot be made, a file from a newer app, a lock that outlasted the
    wait, a file SQLite cannot open); one line for the user."""


@dataclass(frozen=True)
class Play:
    uri: str
    title: str
    artist: str
    phrase: str
    played_at: float = 0.0
    mood: str = ""
    valence: float = 0.0
    arousal: float = 0.0
    playlist: str = ""


@dataclass(frozen=True)
class DJOutcome:
    uri: str
    started_at: float
    region: str
    arm: str
    phrase: str
    target: str
    before: tuple[float, float]  # the room's (valence, arousal) when the track started
    during: tuple[float, float]  # ...and over its first minute
    skipped: bool
    success: bool


def default_path() -> Path:
    return data_root() / FILE_NAME


class MusicStore:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else default_path()
        self._ready = False

    # -- opening ----------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.row_factory = sqlite3.Row
        return db

    def _prepare(self) -> None:
        """Once per store object: the folder, the file (only if it is the app's), WAL, the schema; a corrupt store of
        the app's own is replaced."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # only a folder it makes gets 0700
        except OSError as error:
            raise StoreError(f"cannot create the data folder {self.path.parent}: {error.strerror} "
                             "(set EMOTION_DJ_DATA to a writable folder)") from None
        self._claim()
        try:
            self._migrate()
        except sqlite3.OperationalError:
            raise  # the machine's fault: reported by _reported, the file left as it is
        except sqlite3.DatabaseError as error:  # the app's own file, and SQLite finds it damaged
            self._move_aside(error)
            self._claim()
            self._migrate()
        self._ready = True

    def _claim(self) -> None:
        """Create the file 0600 when there is none; refuse one that is not the app's (StoreError, nothing touched)."""
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return
        except FileExistsError:
            pass
        except OSError:
            return  # SQLite says why in its own words (unable to open...), reported by _reported
        if not self.path.is_file():
            return  # a folder in its place: SQLite cannot open it, and says so
        try:
            with open(self.path, "rb") as f:
                header = f.read(100)
        except OSError:
            return
        if header and not header.startswith(SQLITE_MAGIC):
            raise StoreError(self._not_ours("it is not a SQLite database"))
        if len(header) >= 72 and int.from_bytes(header[68:72], "big") == APPLICATION_ID:
            return  # marked as the app's (its pages may still be damaged: the quick check decides)
        try:
            with closing(sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)) as db:
                marked = db.execute("PRAGMA application_id").fetchone()[0]
                version = db.execute("PRAGMA user_version").fetchone()[0]
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.OperationalError:
            raise  # the machine's fault (a lock, a read-only folder): _reported names it
        except sqlite3.DatabaseError as error:  # an unmarked file SQLite cannot read: not provably the app's
            raise StoreError(self._not_ours(f"an unmarked database SQLite cannot read: {error}")) from None
        if marked == APPLICATION_ID or (marked == 0 and (not tables and version == 0 or version >= 1 and OWN_TABLES <= tables)):
            return
        raise StoreError(self._not_ours("it is another program's database"))

    def _not_ours(self, why: str) -> str:
        return (f"{self.path} is not Emotion DJ's music store ({why}): left as it is; move it away, or set "
                f"EMOTION_DJ_DATA to another folder")

    def _machine_fault(self, error: sqlite3.DatabaseError) -> str | None:
        """The faults of the machine rather than of the file, as one line for the user; None for any other."""
        if not isinstance(error, sqlite3.OperationalError):
            return None
        reason = str(error)
        if "locked" in reason:
            return (f"the music store {self.path} stayed locked by another program for {BUSY_TIMEOUT_MS / 1000:g} s "
                    f"({reason}): close it, or set EMOTION_DJ_DATA to another folder")
        cause = self._folder_trouble()
        if cause:
            return f"cannot use the music store {self.path}: {cause} ({reason}); the file is left as it is"
        if "unable to open" in reason:
            return f"cannot open the music store {self.path} ({reason}): set EMOTION_DJ_DATA to a writable folder"
        if "readonly" in reason:
            return (f"cannot write the music store {self.path}: the file or its folder is read-only ({reason}); "
                    "the file is left as it is")
        return f"cannot use the music store {self.path} ({reason}); the file is left as it is"

    def _folder_trouble(self) -> str | None:
        """What is wrong with the store's file system, when something is: read-only, or full."""
        folder = self.path.parent
        try:
            statvfs = getattr(os, "statvfs", None)  # POSIX only
            if statvfs is not None and statvfs(folder).f_flag & os.ST_RDONLY:
                return "its file system is read-only"
            if shutil.disk_usage(folder).free < 64 * 1024:
                return "the disk is full (free some space)"
        except OSError:
            return None
        return None

    @contextmanager
    def _reported(self) -> Iterator[None]:
        """Every fault of the machine (a lock held past the busy timeout, a full disk, a read-only file system, a
        file SQLite cannot open) becomes a StoreError (one line, no traceback: `emotion-dj history`, the P key and
        the DJ all show it as it is)."""
        try:
            yield
        except sqlite3.OperationalError as error:
            raise StoreError(self._machine_fault(error)) from None

    def _migrate(self) -> None:
        with closing(self._connect()) as db:
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {check}")
            self._use_wal(db)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} was written by a newer Emotion DJ (schema {version}, this one knows "
                                 f"{SCHEMA_VERSION}): upgrade, or move the file away")
            if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")  # from now on it says whose it is
            for step in range(version, SCHEMA_VERSION):
                db.execute("BEGIN IMMEDIATE")
                try:
                    # another process may have migrated while this one waited for the lock
                    if db.execute("PRAGMA user_version").fetchone()[0] != step:
                        db.execute("ROLLBACK")
                        continue
                    for statement in MIGRATIONS[step].split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {step + 1}")
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise

    @staticmethod
    def _use_wal(db: sqlite3.Connection) -> None:
        """Switch a new file to WAL (the mode then sticks to the file), retrying while another process switches it.

        The switch reads the header, then upgrades to a write lock; when two processes do that at the same moment,
        SQLite answers one of them "database is locked" at once, without the busy timeout, to avoid a deadlock.
        Seen in CI when an app and a fleet opened a new store together.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)

    def _move_aside(self, error: Exception) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        self.path.replace(aside)
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        log.warning("the music store %s was unreadable (%s): moved it to %s and started a fresh one",
                    self.path, str(error).splitlines()[0][:80], aside.name)

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection; with `write`, inside one transaction that commits at the end or rolls back on any error."""
        with self._reported():
            if not self._ready:
                self._prepare()
            with closing(self._connect()) as db:
                if not write:
                    yield db
                    return
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise

    # -- plays ------------------------------------------------------------------------------------
    def record(self, plays: Iterable[Play], when: float | None = None) -> int:
        """Every track of one playlist (or one queue addition), in one transaction."""
        when = time.time() if when is None else when
        rows = [(p.uri, p.title, p.artist, p.played_at or when, p.mood, p.valence, p.arousal, p.phrase, p.playlist)
                for p in plays]
        with self._db(write=True) as db:
            db.executemany("INSERT INTO plays (uri, title, artist, played_at, mood, valence, arousal, phrase, playlist) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def recent_uris(self, days: float, now: float | None = None, dj_days: float | None = None) -> set[str]:
        """Tracks used in the last `days` days: the variety rule keeps them out of new playlists. With `dj_days`, a
        track the DJ played counts only that long (a playlist may hold what the room enjoyed last week: that is
        the room's evidence); a playlist's tracks count the whole `days`."""
        now = time.time() if now is None else now
        since, dj_since = now - days * DAY, now - (days if dj_days is None else dj_days) * DAY
        with self._db() as db:
            return {row[0] for row in db.execute("SELECT DISTINCT uri FROM plays WHERE played_at >= ? AND "
                                                 "(playlist != 'dj' OR played_at >= ?)", (since, dj_since))}

    def history(self, limit: int = 50) -> list[Play]:
        """The newest plays first."""
        with self._db() as db:
            rows = db.execute("SELECT uri, title, artist, phrase, played_at, mood, valence, arousal, playlist FROM plays "
                              "ORDER BY played_at DESC, id DESC LIMIT ?", (limit,)).fetchall()
        return [Play(**dict(row)) for row in rows]

    def forget(self) -> int:
        """Clear what was played, the taste profile, the day's pool and its playlists' evidence, the tag cache and
        the DJ's learning, the room's evidence with it (`emotion-dj history --forget`); how many plays went."""
        with self._db(write=True) as db:
            count = db.execute("SELECT COUNT(*) FROM plays").fetchone()[0]
            db.execute("DELETE FROM plays")
            db.execute("DELETE FROM taste")
            db.execute("DELETE FROM dj_plays")
            db.execute("DELETE FROM dj_arms")
            db.execute("DELETE FROM pool")
            db.execute("DELETE FROM tags")
        with self._reported(), closing(self._connect()) as db:
            db.execute("VACUUM")  # the deleted rows leave the file too, not only the index
        return count

    # -- the DJ's learning ------------------------------------------------------------------------
    def arm_counts(self, region: str) -> dict[str, tuple[int, int]]:
        """arm -> (successes, failures) in one region of the mood plane."""
        with self._db() as db:
            rows = db.execute("SELECT arm, successes, failures FROM dj_arms WHERE region = ?", (region,)).fetchall()
        return {row["arm"]: (row["successes"], row["failures"]) for row in rows}

    def record_dj(self, outcome: DJOutcome) -> None:
        """One played track's outcome, and its choice's count, in one transaction."""
        o = outcome
        with self._db(write=True) as db:
            db.execute("INSERT INTO dj_plays (uri, started_at, region, arm, phrase, target, before_valence, before_arousal, "
                       "during_valence, during_arousal, skipped, success) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (o.uri, o.started_at, o.region, o.arm, o.phrase, o.target, o.before[0], o.before[1], o.during[0],
                        o.during[1], int(o.skipped), int(o.success)))
            db.execute("INSERT INTO dj_arms (region, arm, successes, failures) VALUES (?, ?, ?, ?) ON CONFLICT (region, arm) "
                       "DO UPDATE SET successes = successes + excluded.successes, failures = failures + excluded.failures",
                       (o.region, o.arm, int(o.success), int(not o.success)))

    def dj_summary(self) -> list[tuple[str, str, int, int]]:
        """(region, arm, successes, failures) for `emotion-dj history --dj`."""
        with self._db() as db:
            return [tuple(row) for row in db.execute("SELECT region, arm, successes, failures FROM dj_arms ORDER BY region, arm")]

    # -- taste and small facts --------------------------------------------------------------------
    def taste(self) -> tuple[dict, float] | None:
        """(profile, fetched_at) or None."""
        with self._db() as db:
            row = db.execute("SELECT profile, fetched_at FROM taste WHERE id = 1").fetchone()
        if row is None:
            return None
        try:
            return json.loads(row["profile"]), row["fetched_at"]
        except ValueError:
            return None

    def save_taste(self, profile: dict, when: float | None = None) -> None:
        with self._db(write=True) as db:
            db.execute("INSERT OR REPLACE INTO taste (id, fetched_at, profile) VALUES (1, ?, ?)",
                       (time.time() if when is None else when, json.dumps(profile)))

    def meta(self, key: str) -> str | None:
        with self._db() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self._db(write=True) as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- the day's pool and Last.fm's tags ----------------------------------------------------------
    def pool(self) -> tuple[list[dict], float] | None:
        """(candidates as dicts, fetched_at) or None."""
        with self._db() as db:
            row = db.execute("SELECT candidates, fetched_at FROM pool WHERE id = 1").fetchone()
        if row is None:
            return None
        try:
            return json.loads(row["candidates"]), row["fetched_at"]
        except ValueError:
            return None

    def save_pool(self, candidates: list[dict], when: float | None = None) -> None:
        with self._db(write=True) as db:
            db.execute("INSERT OR REPLACE INTO pool (id, fetched_at, candidates) VALUES (1, ?, ?)",
                       (time.time() if when is None else when, json.dumps(candidates)))

    def tags(self, key: str, max_age_days: float, now: float | None = None) -> list[tuple[str, int]] | None:
        """Tags kept under `key` if younger than `max_age_days`; None when there are none or they are older."""
        since = (time.time() if now is None else now) - max_age_days * DAY
        with self._db() as db:
            row = db.execute("SELECT tags FROM tags WHERE key = ? AND fetched_at >= ?", (key, since)).fetchone()
        if row is None:
            return None
        try:
            return [(str(name), int(count)) for name, count in json.loads(row["tags"])]
        except (ValueError, TypeError):
            return None

    def save_tags(self, key: str, tags: list[tuple[str, int]], when: float | None = None) -> None:
        with self._db(write=True) as db:
            db.execute("INSERT OR REPLACE INTO tags (key, fetched_at, tags) VALUES (?, ?, ?)",
                       (key, time.time() if when is None else when, json.dumps(tags[:20])))

    def room_reactions(self) -> list[dict]:
        """Every track the DJ played, with its artist, the room's mood over its first minute and whether it was
        skipped: the room's own evidence (music/evidence/room.py)."""
        from emotion_dj.music.plane import MoodPoint

        with self._db() as db:
            rows = db.execute("SELECT d.uri, d.started_at, d.before_valence, d.before_arousal, d.during_valence, "
                              "d.during_arousal, d.skipped, "
                              "(SELECT p.artist FROM plays p WHERE p.uri = d.uri ORDER BY p.id DESC LIMIT 1) AS artist "
                              "FROM dj_plays d ORDER BY d.started_at").fetchall()
        return [{"uri": r["uri"], "started_at": r["started_at"], "before": MoodPoint(r["before_valence"], r["before_arousal"]),
                 "during": MoodPoint(r["during_valence"], r["during_arousal"]),
                 "skipped": bool(r["skipped"]), "artist": r["artist"] or ""} for r in rows]
