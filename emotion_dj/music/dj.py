"""The DJ: plays by itself on a Spotify Connect device, follows the room without flapping, learns what works.

It runs on its own thread; the frame loop only hands it a way to read the room's point (the faces' moods, summed
under the processor's lock) and reads back `state`, a dict replaced whole (never mutated), for the HUD and the page.
Once the room's mood is known it starts playback with a few tracks (PUT /me/player/play), then keeps a short queue
ahead (POST /me/player/queue), checking every few seconds what is playing (GET /me/player/currently-playing), so a
change of mood is heard within a track or two. A change of direction (music/follow.py) re-aims the next track; a
big one starts the new mood's tracks at once. Each track is chosen from the day's pool by evidence, as P's are
(music/choose.py), the bandit (music/bandit.py) choosing for the region which source of evidence leads; over the
track's first minute the DJ watches the room, and the outcome is stored (and becomes the room's evidence).

Faults end in one line each and the app goes on: no device (retried every minute; P still makes playlists), a free
account (the DJ turns itself off), anything else talking to Spotify (retried after a pause). It never pauses or
stops playback; it only adds to it.

It comes back by itself: when nothing plays any more (its queue ran dry during an outage, its tracks were shorter
than the poll), it starts again at once, and if the player still plays nothing after that, again every
`retry_s`. It never takes over what the listener chose: while Spotify plays something the DJ did not queue (a
podcast, another track) or is paused, it waits, and says so; once nothing plays, it starts again.
"""
from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from emotion_dj.music import bandit
from emotion_dj.music.choose import Choice, choose
from emotion_dj.music.follow import TARGETS, FollowSettings, RoomFollower, Turn, intended
from emotion_dj.music.lastfm import Lastfm
from emotion_dj.music.library import SpotifyLibrary
from emotion_dj.music.plane import MoodPoint, mean_point, nearest_class
from emotion_dj.music.player import PLAYER_SCOPES, NoDevice, PremiumRequired, SpotifyPlayer
from emotion_dj.music.playlists import evidence_sources, gather_evidence
from emotion_dj.music.pool import POOL_BUDGET, current_pool
from emotion_dj.music.recommend import RecommendSettings
from emotion_dj.music.spotify import SCOPES, MusicError, SpotifySettings, connect, explain
from emotion_dj.music.store import DJOutcome, MusicStore, Play

log = logging.getLogger(__name__)
LASTFM_PICK_S = 3.0  # seconds of Last.fm requests for one of the DJ's picks (cached tags need none)


@dataclass(frozen=True)
class Pick:
    """One track the DJ chose: the choice (track, estimate, why) and the bandit's arm that led to it."""
    choice: Choice
    arm: str

    @property
    def track(self):
        return self.choice.track

    @property
    def why(self) -> str:
        return self.choice.why


class LoginFailed(Exception):
    """The login with the player scopes did not happen (declined, timed out, no browser): the DJ turns off."""


@dataclass(frozen=True)
class DJSettings:
    target: str = "match"  # match | calm | energize | uplift (--dj-target)
    step: float = 0.3  # plane units each track moves toward the target (the iso step)
    device: str | None = None  # a Spotify Connect device's name (--dj-device); None: the active one
    start_tracks: int = 2  # tracks the first play starts with
    ahead: int = 1  # tracks kept queued after the playing one
    tick_s: float = 1.0  # how often the room is read
    poll_s: float = 5.0  # how often the player is asked what plays
    retry_s: float = 60.0  # after "no device"
    pause_s: float = 15.0  # after any other fault
    feedback_s: float = 60.0  # the room is watched over each track's first minute
    follow: FollowSettings = field(default_factory=FollowSettings)


@dataclass
class Playing:
    pick: Pick
    began: float
    before: MoodPoint
    intended: MoodPoint
    seen: list = field(default_factory=list)  # the room's points over the first minute


class DJ:
    def __init__(self, room: Callable[[], MoodPoint | None], spotify: SpotifySettings | None = None,
                 settings: DJSettings | None = None, store: MusicStore | None = None, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 say: Callable[[str], None] | None = None):
        self.room, self.spotify = room, spotify
        self.settings = settings or DJSettings()
        if self.settings.target not in TARGETS:
            raise MusicError(f"--dj-target must be one of {', '.join(TARGETS)}, got '{self.settings.target}'")
        self.store = store or MusicStore()
        self.rng, self.clock, self.sleep = rng or random.Random(), clock, sleep  # simulated in benchmarks/dj.py
        self.say = say or (lambda line: print(f"DJ: {line}", file=sys.stderr))
        self.follower = RoomFollower(self.settings.follow)
        self.player: SpotifyPlayer | None = None
        self.client = None
        self.pool = []  # the day's candidates (music/pool.py)
        self._pool_read = 0.0
        self.sources = []  # the evidence sources that are on
        self.playing: Playing | None = None
        self.ahead: list[tuple[Pick, MoodPoint]] = []
        self.last_intended: MoodPoint | None = None
        self.on = True
        self.state: dict = {"on": True, "status": "waiting for the room's mood", "target": self.settings.target}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_poll = 0.0
        self._resume_at = 0.0
        self._last_line = ""
        self.waiting: str | None = None  # "paused" (by the listener) or "other" (their own choice plays); None: it plays
        self._restarted = False  # it restarted because nothing played, and has not heard its track since

    # -- the thread -------------------------------------------------------------------------------
    def start(self) -> DJ:
        self._thread = threading.Thread(target=self._run, name="dj", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end; a request in flight is abandoned after `timeout` (the thread is a daemon)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._finish_track(self.clock())

    def _run(self) -> None:
        while self.on and not self._stop.wait(self.settings.tick_s):
            self.tick(self.clock())

    def tick(self, now: float) -> None:
        """One step: read the room, follow it, keep the music going. Every fault is one line and a pause."""
        if not self.on or now < self._resume_at:
            return
        try:
            self._step(now)
        except LoginFailed as error:
            self.on = False
            self._report(f"{error}: the DJ is off (switch it on again once logged in)")
        except PremiumRequired:
            self.on = False
            self._report("Spotify Premium is needed to play on a device: the DJ is off (P still makes playlists)")
        except NoDevice as error:
            self._resume_at = now + self.settings.retry_s
            self._report(f"{error}; trying again in {self.settings.retry_s:g} s")
        except Exception as error:  # noqa: BLE001 - explain() makes every Spotify fault one safe line
            log.debug("DJ step failed", exc_info=True)
            self._resume_at = now + self.settings.pause_s
            self._report(f"{explain(error)}; trying again in {self.settings.pause_s:g} s")

    def _report(self, line: str) -> None:
        self._publish(status=line)
        if line != self._last_line:  # one line per fault, not one per retry
            self._last_line = line
            self.say(line)

    # -- the page's switch and target -------------------------------------------------------------
    def set_on(self, on: bool) -> None:
        """The switch: off, the DJ adds nothing more (what plays goes on); on again, it follows the room afresh."""
        if on and not self.on:
            self.playing, self.ahead, self._resume_at, self.waiting = None, [], 0.0, None
        self.on = on
        if on and (self._thread is None or not self._thread.is_alive()):
            self.start()
        self._publish(status=None if on else "DJ off")

    def set_target(self, target: str) -> None:
        if target not in TARGETS:
            raise MusicError(f"unknown DJ target '{target}' (one of {', '.join(TARGETS)})")
        self.settings = replace(self.settings, target=target)
        self.last_intended = None  # meet the room again, then step toward the new target
        self._publish()

    # -- the music --------------------------------------------------------------------------------
    def _step(self, now: float) -> None:
        point = self.room()
        turn = self.follower.update(now, point)
        if self.playing is not None and point is not None and now - self.playing.began <= self.settings.feedback_s:
            self.playing.seen.append(point)
        if self.follower.direction is None:
            return
        if self.player is None:
            self._connect()
        if self.waiting is not None:
            if now >= self._next_poll:
                self._next_poll = now + self.settings.poll_s
                self._wait_for_the_listener()
            return
        if self.playing is None:
            self._begin_session(now)
            return
        if turn is not None and turn.kind != "start":
            self._turn(turn, now)
        if now >= self._next_poll:
            self._next_poll = now + self.settings.poll_s
            self._follow_player(now)
            if self.playing is None or self.waiting is not None:
                return  # starting again, or holding back: nothing is queued behind what the listener hears
        while len(self.ahead) < self.settings.ahead:
            pick, aim = self._pick(1)[0]
            self.player.queue(pick.track.uri)
            self.ahead.append((pick, aim))
            self._publish()

    def _connect(self) -> None:
        spotify = self.spotify or SpotifySettings.load()
        client = connect(spotify, scopes=f"{SCOPES} {PLAYER_SCOPES}")
        try:
            client.auth_manager.get_access_token()  # a login with the player scopes, once
        except Exception as error:  # noqa: BLE001 - a login that did not happen is not retried every few seconds
            raise LoginFailed(explain(error)) from None
        self.client, self.player = client, SpotifyPlayer(client, self.settings.device, self.clock, self.sleep)

    def _aim(self) -> MoodPoint:
        aim = intended(self.last_intended, self.follower.direction, self.settings.target, self.settings.step)
        self.last_intended = aim
        return aim

    def _ensure_pool(self) -> None:
        """The evidence sources and the day's pool (kept in the store, built once a day), read again each day."""
        if self.pool and time.time() - self._pool_read < 86_400:
            return
        me = self.client.me()
        owner = me.get("id") if isinstance(me, dict) else None
        spotify = self.spotify or SpotifySettings.load()
        lastfm = Lastfm(spotify.lastfm) if spotify.lastfm is not None else None
        self.sources = evidence_sources(self.store, lastfm, owner, use_taste=True)
        for source in self.sources:
            if source.name == "lastfm":
                source.time_budget_s = LASTFM_PICK_S  # a few seconds a pick: the player must not wait
        gatherers = [s for s in self.sources if s.name in ("playlist", "lastfm")]
        self.pool = current_pool(SpotifyLibrary(self.client, POOL_BUDGET), self.store, gatherers, self.say)[0]
        self._pool_read = time.time()

    def _pick(self, count: int) -> list[tuple[Pick, MoodPoint]]:
        self._ensure_pool()
        aim = self._aim()
        arm = bandit.choose(self.store.arm_counts(bandit.region(aim)), self.rng)
        recent = self.store.recent_uris(1.0) | {p.pick.track.uri for p in ([self.playing] if self.playing else [])}
        recent |= {p.track.uri for p, _ in self.ahead}
        extra = gather_evidence(self.pool, self.sources, aim, self.say, [])
        rules = RecommendSettings.from_env()
        choices = choose(self.pool, extra, aim, count, recent, rules.discovery, rules.per_artist, self.rng, arm=arm)
        if not choices:
            raise MusicError(f"no new track in today's pool for the {nearest_class(aim)} room")
        picks = [Pick(ch, arm) for ch in choices]
        self.store.record([Play(p.track.uri, p.track.name, p.track.artist, p.why, mood=nearest_class(aim),
                                valence=aim.valence, arousal=aim.arousal, playlist="dj") for p in picks])
        return [(p, aim) for p in picks]

    def _begin_session(self, now: float) -> None:
        chosen = self._pick(self.settings.start_tracks)
        self.player.play([p.track.uri for p, _ in chosen])
        self._began(chosen[0], now)
        self.ahead = chosen[1:]
        self._next_poll = now + self.settings.poll_s
        self.say(f"playing {self._describe(self.playing.pick, self.playing.intended)}")

    def _turn(self, turn: Turn, now: float) -> None:
        self.last_intended = None  # meet the room where it now is (iso), then step on from there
        self.say(f"the room turned {nearest_class(turn.point)}" + (": changing now" if turn.big else ": next track follows"))
        if turn.big:
            chosen = self._pick(self.settings.start_tracks)
            self.player.play([p.track.uri for p, _ in chosen])
            self._finish_track(now)
            self._began(chosen[0], now)
            self.ahead = chosen[1:]
        else:
            self.ahead = []  # what Spotify has queued still plays; the next one queued aims at the new direction

    def _follow_player(self, now: float) -> None:
        playing = self.player.now_playing()
        if playing is None or (playing.track is None and playing.kind == "track"):
            self._nothing_plays(now)
            return
        if not self._ours(playing):
            self._someone_elses(now, playing)
            return
        if not playing.playing:
            self.waiting = "paused"  # the listener paused: the DJ never presses play for them
            self._report("paused in Spotify: the DJ waits until you play again")
            return
        self._restarted = False
        if playing.track.uri == self.playing.pick.track.uri:
            return
        self._finish_track(now)
        for i, (pick, aim) in enumerate(self.ahead):
            if pick.track.uri == playing.track.uri:
                del self.ahead[i]
                self._began((pick, aim), now)
                return

    def _ours(self, playing) -> bool:
        """Whether what plays is the DJ's own track (the one it began, or one it queued)."""
        mine = ({self.playing.pick.track.uri} if self.playing else set()) | {pick.track.uri for pick, _ in self.ahead}
        return playing.track is not None and playing.track.uri in mine

    def _nothing_plays(self, now: float) -> None:
        """The queue ran dry (an outage longer than the queued tracks, very short tracks) or the player stalled:
        start again now; if that did not make it play, again after `retry_s`."""
        self._finish_track(now)
        self.ahead = []
        if self._restarted:  # stays set until its track is heard: a stuck player gets one play a minute
            self._resume_at = now + self.settings.retry_s
            self._report(f"Spotify plays nothing after the DJ's play command; trying again in {self.settings.retry_s:g} s")
            return
        self._restarted = True
        self._publish(status="nothing is playing any more: the DJ starts again")
        self.say("nothing is playing any more: starting again")

    def _someone_elses(self, now: float, playing) -> None:
        """The listener chose something else (a podcast, another track): the DJ adds nothing until it has ended."""
        self._finish_track(now)
        self.ahead, self.waiting = [], "other"
        what = (f"'{playing.track.name} - {playing.track.artist}'" if playing.track else
                "a podcast episode" if playing.kind == "episode" else f"something that is not a track ({playing.kind})")
        self._report(f"Spotify plays {what}, which the DJ did not choose: it waits until that ends")

    def _wait_for_the_listener(self) -> None:
        """While holding back: after a pause, the DJ follows again once its track plays again; after the listener's
        own choice, it starts once nothing plays. It never presses play for them."""
        playing = self.player.now_playing()
        idle = playing is None or (playing.track is None and playing.kind == "track")
        if self.waiting == "paused":
            if not idle and self._ours(playing) and playing.playing:
                self.waiting = None
                self._publish()
            elif not idle and not self._ours(playing):
                self._someone_elses(self.clock(), playing)
            return
        if idle:
            self.waiting = None
            self.playing = None
            self.say("Spotify is free again: the DJ starts")

    def _began(self, chosen: tuple[Pick, MoodPoint], now: float) -> None:
        pick, aim = chosen
        before = self.follower.smoothed or aim
        self.playing = Playing(pick, now, before, aim)
        self._publish()

    def _finish_track(self, now: float) -> None:
        """The outcome of the track that was playing: the room over its first minute, skipped or not."""
        done = self.playing
        if done is None:
            return
        self.playing = None
        during = mean_point(done.seen) or done.before
        skipped = now - done.began < bandit.SKIP_S
        goal = TARGETS[self.settings.target]
        success = bandit.success(done.before, during, goal, skipped)
        self.store.record_dj(DJOutcome(done.pick.track.uri, time.time(), bandit.region(done.intended), done.pick.arm,
                                       done.pick.why, self.settings.target, (done.before.valence, done.before.arousal),
                                       (during.valence, during.arousal), skipped, success))

    # -- what the HUD and the page show -----------------------------------------------------------
    def _describe(self, pick: Pick, aim: MoodPoint) -> str:
        room = nearest_class(self.follower.direction or aim)
        where = f"{room} room" if self.settings.target == "match" else f"{room} room -> toward {self.settings.target}"
        return f"{pick.track.name} - {pick.track.artist} ({where}; {pick.why})"

    def _publish(self, status: str | None = None) -> None:
        p = self.playing
        now_playing = None if p is None else {"title": p.pick.track.name, "artist": p.pick.track.artist,
                                                "why": self._describe(p.pick, p.intended)}
        up_next = [{"title": k.track.name, "artist": k.track.artist, "why": self._describe(k, aim)} for k, aim in self.ahead]
        direction = self.follower.direction
        self.state = {"on": self.on, "target": self.settings.target,
                      "status": status or (f"DJ: {now_playing['title']} - {now_playing['artist']}" if now_playing else "DJ"),
                      "room": None if direction is None else {**direction.rounded(), "mood": nearest_class(direction)},
                      "now_playing": now_playing, "up_next": up_next, "turns": self.follower.turns,
                      "waiting": self.waiting}
