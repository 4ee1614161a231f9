"""Nothing leaves the box (docs/PRIVACY.md): the app, its page, the report, a playlist and a fleet, each run
under strace on a fresh HOME, make no DNS query, no metadata probe and no connection off the machine, and leave
only the documented folders behind."""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.request

import pytest

from emotion_dj.core import privacy
from tests.broker import Mosquitto
from tests.egress import Traced, app, forbidden, fresh_home_env, parse, run_traced, tree
from tests.fake_spotify import FakeSpotify
from tests.streams import MjpegServer
from tests.test_music import free_port

# What a run may leave in HOME (docs/PRIVACY.md): the project's own cache, config and data folders.
PROJECT_FOLDERS = (".cache/emotion-dj", ".config/emotion-dj", ".local/share/emotion-dj")


def undocumented(home, allowed=PROJECT_FOLDERS) -> list[str]:
    parents = {"/".join(folder.split("/")[:n]) for folder in allowed for n in range(1, folder.count("/") + 1)}
    return sorted(p for p in tree(home) if p not in parents and not any(p == f or p.startswith(f + "/") for f in allowed))


def test_the_watch_catches_a_dns_query_a_metadata_probe_and_an_off_machine_address(tmp_path):
    # UDP: connect() sends nothing and the query goes to loopback, so this check itself sends nothing anywhere.
    probe = ("import socket\n"
             "for host, port in (('192.0.2.1', 9), ('169.254.169.254', 80), ('::ffff:198.51.100.7', 9)):\n"
             "    s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM); s.connect((host, port))\n"
             "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'q', ('127.0.0.1', 53))\n"
             "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', 9))\n")
    done, contacts = run_traced([sys.executable, "-c", probe], fresh_home_env(tmp_path), tmp_path / "trace", timeout=60)
    assert done.returncode == 0, done.stderr
    pid = contacts[0].pid
    assert forbidden(contacts) == [
        f"off-machine connection: 192.0.2.1:9 (connect in pid {pid})",
        f"metadata probe: 169.254.169.254:80 (connect in pid {pid})",
        f"off-machine connection: ::ffff:198.51.100.7:9 (connect in pid {pid})",
        f"DNS query: 127.0.0.1:53 (sendto in pid {pid})",
    ]
    assert forbidden(contacts, allowed={("192.0.2.1", 9), ("169.254.169.254", 80), ("::ffff:198.51.100.7", 9),
                                        ("127.0.0.1", 53)}) == []


def test_the_trace_parser_reads_strace_lines_not_payloads():
    trace = "\n".join([
        '12  connect(8, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("8.8.8.8")}, 16) = 0',
        '13  sendto(9, "sin_addr=inet_addr(\\"1.2.3.4\\")", 30, 0, NULL, 0) = 30',
        '14  connect(9, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), '
        'inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 EINPROGRESS',
        '15  connect(3, {sa_family=AF_UNIX, sun_path="/tmp/ray/sockets/raylet"}, 110) = 0',
    ])
    assert [(c.pid, c.host, c.port, c.kind) for c in parse(trace)] == [
        (12, "8.8.8.8", 53, "DNS query"), (14, "2001:db8::1", 443, "off-machine connection")]


def test_telemetry_is_off_unless_the_user_opts_in(tmp_path):
    env = {"EMOTION_DJ_CACHE": str(tmp_path)}
    privacy.keep_local(env)
    assert env["ORT_DISABLE_TELEMETRY"] == "1" and env["RAY_USAGE_STATS_ENABLED"] == "0"
    assert env["MPLCONFIGDIR"] == str(tmp_path / "matplotlib")
    mine = {"RAY_USAGE_STATS_ENABLED": "1", "MPLCONFIGDIR": "/somewhere/mine"}
    privacy.keep_local(mine)
    assert mine["RAY_USAGE_STATS_ENABLED"] == "1" and mine["MPLCONFIGDIR"] == "/somewhere/mine"  # the user's own
    opted_in = {"EMOTION_DJ_TELEMETRY": "on"}
    privacy.keep_local(opted_in)
    assert opted_in == {"EMOTION_DJ_TELEMETRY": "on"}
    # the process running this suite imported the package: its own environment has the switches
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"


def wait_for_page(url: str, process, budget: float) -> dict:
    """The page's live state, once it has one (frames processed); the app's own start-up (model, detector) comes
    first, and the page answers {} until the first state is published."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        assert process.poll() is None, "the app ended before its page answered"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                state = json.loads(response.read())
            if state.get("stats", {}).get("frames"):
                return state
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the page at {url} did not answer within {budget:g} s")


def test_the_app_its_page_and_the_report_contact_nothing_off_the_machine_and_keep_to_their_folders(tmp_path):
    home, out = tmp_path / "home", tmp_path / "out"
    home.mkdir(), out.mkdir()
    env = fresh_home_env(home)
    port = free_port()
    broker = Mosquitto(tmp_path / "broker").start() if shutil.which("mosquitto") else None  # .ci/run installs it
    mqtt = ["--mqtt", f"mqtt://127.0.0.1:{broker.port}"] if broker else []
    with MjpegServer(frames=100_000) as stream:  # a configured stream URL, on loopback
        run = Traced(app("--source", stream.url, "--headless", "--serve", f"127.0.0.1:{port}",
                         "--events", str(out / "events.jsonl"), "--record", str(out / "run.mp4"),
                         "--report", str(out / "mood.png"), *mqtt), env, tmp_path / "app.trace")
        state = wait_for_page(f"http://127.0.0.1:{port}/api/state", run.process, budget=120)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
            assert page.status == 200
        time.sleep(1.0)  # a second of frames (and the telemetry uploader's first seconds, where it still ran)
        run.signal_command()
        done, contacts = run.finish(timeout=60)
    if broker:
        broker.kill()
    assert done.returncode == 0, done.stderr[-2000:]
    assert state["stats"]["frames"] > 0  # the page served the live state of a running app
    assert not broker or "MQTT: connected to mqtt://127.0.0.1" in done.stderr  # the configured broker, on loopback
    assert contacts, "strace saw no contact at all (not even the stream): the watch is broken"
    assert forbidden(contacts) == []

    report, report_contacts = run_traced(app("report", str(out / "events.jsonl"), "--out", str(out / "again.png")), env,
                                         tmp_path / "report.trace", timeout=120)
    assert report.returncode == 0, report.stderr[-2000:]
    assert forbidden(report_contacts) == []
    assert (out / "again.png").stat().st_size > 0 and (out / "run.mp4").stat().st_size > 0
    assert undocumented(home) == [], "a run wrote outside the documented folders (docs/PRIVACY.md)"


@pytest.mark.parametrize("with_key", [False, True], ids=["no Last.fm key", "a Last.fm key"])
def test_a_playlist_contacts_only_the_configured_spotify_and_last_fm_only_with_a_key(tmp_path, with_key):
    from tests.fake_catalog import Catalog
    from tests.fake_lastfm import KEY, FakeLastfm

    home = tmp_path / "home"
    (home / ".config" / "emotion-dj").mkdir(parents=True)
    fake = FakeSpotify().start()
    lastfm = FakeLastfm(Catalog(seed=7)).start()
    try:
        (home / ".config" / "emotion-dj" / "spotify-token.json").write_text(json.dumps(fake.issue_token()))
        env = fresh_home_env(home, SPOTIPY_CLIENT_ID="test-client", SPOTIFY_API_URL=f"{fake.url}/v1/",
                             SPOTIFY_ACCOUNTS_URL=fake.url, BROWSER="true", LASTFM_API_URL=lastfm.url,
                             **({"LASTFM_API_KEY": KEY} if with_key else {}))
        done, contacts = run_traced(app("playlist", "--mood", "happy", "--no-open"), env, tmp_path / "trace", timeout=180)
    finally:
        fake.stop()
        lastfm.stop()
    assert done.returncode == 0, done.stderr[-2000:]
    assert fake.playlists, "no playlist was made: the check would prove nothing"
    spotify = ("127.0.0.1", fake.server.server_address[1])
    last_fm = ("127.0.0.1", lastfm.server.server_address[1])
    expected = {spotify, last_fm} if with_key else {spotify}
    assert {(c.host, c.port) for c in contacts if c.call == "connect"} == expected
    assert bool(lastfm.calls) == with_key  # without a key, not one request to Last.fm
    assert forbidden(contacts, allowed=expected) == []
    assert undocumented(home) == []


@pytest.mark.timeout(420)
def test_a_fleet_contacts_nothing_off_the_machine(tmp_path):
    pytest.importorskip("ray.serve")
    home = tmp_path / "home"
    home.mkdir()
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(f'[model]\nengine = "onnx"\ndevice = "cpu"\nthreads = 1\n\n[serve]\nhost = "127.0.0.1"\nport = {free_port()}\n\n'
                     '[[camera]]\nname = "door"\nsource = "demo"\nroom = "hall"\n\n'
                     '[[camera]]\nname = "sofa"\nsource = "demo"\nroom = "lounge"\n')
    # Budget: Ray's start (~12 s here, ~60 s on two busy cores under strace), 40 frames a camera, the stop.
    done, contacts = run_traced(app("fleet", str(fleet), "--max-frames", "40"), fresh_home_env(home),
                                tmp_path / "trace", timeout=360)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "room hall" in done.stdout
    assert any(c.on_machine for c in contacts), "strace saw none of Ray's own loopback traffic: the watch is broken"
    assert forbidden(contacts) == []
    # Ray keeps its cluster token in ~/.ray/auth_token (docs/PRIVACY.md); its session logs go to /tmp/ray.
    assert undocumented(home, PROJECT_FOLDERS + (".ray",)) == []

