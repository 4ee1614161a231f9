"""Home Assistant over MQTT (emotion_dj/home/): the settings, the discovery configs, the bridge against a real
Mosquitto (password, TLS, a restart, a silent broker), and the app itself seen by a client that listens as Home
Assistant does, with its controls driving the stand-in Spotify."""
import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from emotion_dj.core.redact import redact
from emotion_dj.home.bridge import MqttBridge
from emotion_dj.home.discovery import HomeDevice, device_states, discovery_messages, entities, parse_command
from emotion_dj.home.settings import MqttSettings, MqttSettingsError
from emotion_dj.music.plane import MoodPoint
from tests import processes
from tests.broker import HomeAssistantClient, Mosquitto, SilentBroker, needs_mosquitto
from tests.conftest import ROOT
from tests.fake_catalog import Catalog
from tests.fake_spotify import FakeSpotify
from tests.streams import MjpegServer
from tests.test_fleet import wait_for
from tests.test_music import settings_for

SECRET = "s3cret-Pa55"  # a password that must never appear in any output
REQUIRED = {"sensor": {"state_topic"}, "button": {"command_topic"}, "switch": {"command_topic", "state_topic"},
            "select": {"command_topic", "options", "state_topic"}}


# -- settings -----------------------------------------------------------------------------------------------------
def test_the_url_gives_host_port_tls_and_user_and_the_password_comes_from_the_environment_or_a_file(tmp_path):
    s = MqttSettings.from_url("mqtt://broker.lan", {"EMOTION_DJ_MQTT_ID": "Living Room!"})
    assert (s.host, s.port, s.tls, s.username, s.password, s.device_id) == ("broker.lan", 1883, False, None, None, "living_room")
    s = MqttSettings.from_url("mqtts://dj@10.0.0.2", {"EMOTION_DJ_MQTT_PASSWORD": SECRET})
    assert (s.port, s.tls, s.username, s.password) == (8883, True, "dj", SECRET)
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    s = MqttSettings.from_url("mqtt://dj@host:1999", {"EMOTION_DJ_MQTT_PASSWORD_FILE": str(secret_file)})
    assert (s.port, s.password) == (1999, SECRET)
    assert SECRET not in str(s) and SECRET not in repr(s) and str(s) == "mqtt://dj@host:1999"


@pytest.mark.parametrize("url, env, says", [
    (f"mqtt://dj:{SECRET}@host", {}, "must not hold the password"),
    ("http://host", {}, "mqtt://host[:port]"),
    ("mqtt://", {}, "mqtt://host[:port]"),
    ("mqtt://host:0", {}, "port from 1 to 65535"),
    ("mqtt://dj%0Aforged@host", {}, "control character"),
    ("mqtt://host:99999", {}, "port from 1 to 65535"),
    ("mqtt://host/topic", {}, "no path"),
    ("mqtts://host", {"EMOTION_DJ_MQTT_CA": "/nonexistent/ca.pem"}, "No such file"),
    ("mqtts://host", {"EMOTION_DJ_MQTT_CA": "/dev/zero"}, "not a regular file"),
    ("mqtts://host", {"EMOTION_DJ_MQTT_CA": "pyproject.toml"}, "holds no PEM certificate"),
    ("mqtt://host", {"EMOTION_DJ_MQTT_KEEPALIVE": "0"}, "KEEPALIVE"),
    ("mqtt://host", {"EMOTION_DJ_MQTT_KEEPALIVE": "\u00b2"}, "KEEPALIVE must be whole seconds"),
    ("mqtt://host", {"EMOTION_DJ_MQTT_KEEPALIVE": "\u0663\u0660"}, "KEEPALIVE must be whole seconds"),
    ("mqtt://host", {"EMOTION_DJ_MQTT_KEEPALIVE": "1e3"}, "KEEPALIVE must be whole seconds"),
    ("mqtt://host", {"EMOTION_DJ_MQTT_DISCOVERY_PREFIX": "home/#"}, "without wildcards"),
    ("mqtt://host", {"EMOTION_DJ_MQTT_DISCOVERY_PREFIX": "h" * 70_000}, "at most 100"),
    ("mqtt://dj@host", {"EMOTION_DJ_MQTT_PASSWORD_FILE": "/dev/zero"}, "not a regular file"),
    ("mqtt://dj@host", {"EMOTION_DJ_MQTT_PASSWORD_FILE": "/nonexistent/pw"}, "cannot read"),
])
def test_a_bad_mqtt_setting_is_one_line_that_never_shows_the_password(url, env, says):
    with pytest.raises(MqttSettingsError) as error:
        MqttSettings.from_url(url, env)
    assert says in str(error.value) and "\n" not in str(error.value) and SECRET not in str(error.value)
    assert "***" not in redact(str(error.value))  # the one-line error is redacted: it must still read as written


@pytest.mark.parametrize("content, says", [
    ("pässwort".encode("latin-1"), "is not UTF-8 text"),
    (b"x" * 5000, "larger than 4 KiB"),
])
def test_a_password_file_that_is_not_a_short_utf8_text_is_one_line(tmp_path, content, says):
    secret = tmp_path / "pw"
    secret.write_bytes(content)
    with pytest.raises(MqttSettingsError, match=says):
        MqttSettings.from_url("mqtt://dj@host", {"EMOTION_DJ_MQTT_PASSWORD_FILE": str(secret)})


def test_a_password_pipe_is_read_once_and_one_nobody_writes_to_times_out_or_stops_on_a_signal(tmp_path, monkeypatch):
    from emotion_dj.core import files

    monkeypatch.setattr(files, "FIFO_TIMEOUT_S", 0.5)
    pipe = tmp_path / "pw-pipe"
    os.mkfifo(pipe)
    env = {"EMOTION_DJ_MQTT_PASSWORD_FILE": str(pipe)}
    started = time.monotonic()
    with pytest.raises(MqttSettingsError, match="nothing finished writing"):
        MqttSettings.from_url("mqtt://dj@host", env, cancelled=lambda: False)
    with pytest.raises(MqttSettingsError, match="stopped while waiting"):
        MqttSettings.from_url("mqtt://dj@host", env, cancelled=lambda: True)
    assert time.monotonic() - started < 5
    writer = subprocess.Popen(["sh", "-c", f"sleep 0.2; printf '{SECRET}\\n' > '{pipe}'"])
    try:
        assert MqttSettings.from_url("mqtt://dj@host", env).password == SECRET
        assert MqttSettings.from_url("mqtt://dj@host", env).password == SECRET  # the check and the bridge share it
    finally:
        writer.wait(5)


def test_a_start_with_a_password_pipe_nobody_writes_to_ends_at_ctrl_c_in_one_line(tmp_path):
    pipe = tmp_path / "pw-pipe"
    os.mkfifo(pipe)
    app = subprocess.Popen([sys.executable, "-m", "emotion_dj", "--source", "demo", "--headless", "--mqtt",
                            "mqtt://dj@127.0.0.1:1"], cwd=ROOT, env={**os.environ, "EMOTION_DJ_MQTT_PASSWORD_FILE": str(pipe)},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    app.send_signal(signal.SIGINT)
    started = time.monotonic()
    out, err = app.communicate(timeout=20)
    assert time.monotonic() - started < 3 and app.returncode != 0
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_the_command_line_refuses_a_password_in_the_url_before_anything_slow():
    done = subprocess.run([sys.executable, "-m", "emotion_dj", "--source", "demo", "--mqtt", f"mqtt://dj:{SECRET}@127.0.0.1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "must not hold the password" in done.stderr
    assert SECRET not in done.stderr + done.stdout


# -- discovery ------------------------------------------------------------------------------------------------
def test_every_discovery_config_has_what_home_assistant_requires_and_reads_a_topic_the_device_publishes():
    device = HomeDevice("box", "Emotion DJ box")
    messages = discovery_messages(device, "homeassistant", "emotion_dj/box/availability")
    published = {device.topic(name) for name in device_states(MoodPoint(0.5, 0.2), 2, ("happy", 0.9, {"happy": 0.9}), 99.0,
                                                                    {"on": True, "target": "calm"}, ("u", True, "ok"))}
    unique_ids = []
    for topic, payload in messages.items():
        prefix, component, node, entity, last = topic.split("/")
        config = json.loads(payload)
        assert (prefix, node, last) == ("homeassistant", "box", "config") and component in REQUIRED
        assert REQUIRED[component] <= set(config) and config["name"]
        assert config["availability_topic"] == "emotion_dj/box/availability"
        assert config["device"]["identifiers"] == ["box"] and config["device"]["sw_version"] and config["device"]["model"]
        for key in ("state_topic", "json_attributes_topic"):
            if key in config:
                assert config[key] in published, f"{topic}: {key} {config[key]} is never published"
        if "command_topic" in config:
            assert config["command_topic"].startswith("emotion_dj/box/")
        unique_ids.append(config["unique_id"])
    assert len(unique_ids) == len(set(unique_ids)) == len(entities(device)) == 11
    assert all(uid.startswith("box_") for uid in unique_ids)  # from the device id alone: the same after a restart
    room = HomeDevice("box_bar", "Bar", main_face=False, dj=False)
    assert {entity for _, entity, _ in entities(room)} == {"mood", "valence", "arousal", "faces", "playlist", "make_playlist"}


@pytest.mark.parametrize("topic, payload, command", [
    ("emotion_dj/box/playlist/make", "PRESS", {"playlist": True}),
    ("emotion_dj/box/dj/set", "ON", {"on": True}),
    ("emotion_dj/box/dj/set", "OFF", {"on": False}),
    ("emotion_dj/box/dj/target/set", "calm", {"target": "calm"}),
    ("emotion_dj/box/dj/set", "on", None),  # Home Assistant sends exactly ON and OFF
    ("emotion_dj/box/dj/target/set", "party", None),
    ("emotion_dj/box/playlist/make", "", None),
    ("emotion_dj/other/dj/set", "ON", None),
])
def test_only_the_payloads_the_controls_send_are_commands(topic, payload, command):
    assert parse_command(HomeDevice("box", "box"), topic, payload) == command


def test_states_are_rounded_and_say_none_when_nobody_is_in_view():
    states = device_states(MoodPoint(-0.501234, -0.2), 1, ("sad", 0.71234, {"sad": 0.71234, "happy": 0.01}), 97.6)
    assert json.loads(states["room"]) == {"mood": "sad", "valence": -0.5, "arousal": -0.2, "intensity": 0.54, "faces": 1}
    assert json.loads(states["face"]) == {"expression": "sad", "score": 0.71, "probs": {"sad": 0.71, "happy": 0.01}}
    assert states["fps"] == "98" and states["faces"] == "1"
    nobody = device_states(None, 0)
    assert json.loads(nobody["room"])["mood"] == "none" and json.loads(nobody["face"])["expression"] == "none"
    assert json.loads(nobody["dj"]) == {"state": "OFF", "target": "match", "track": "", "title": "", "artist": "", "status": ""}


# -- the bridge, against a real broker ----------------------------------------------------------------------------
def bridge_for(broker, url: str | None = None, lines: list | None = None, **env) -> MqttBridge:
    settings = MqttSettings.from_url(url or f"mqtt://127.0.0.1:{broker.port}", {"EMOTION_DJ_MQTT_ID": "box", **env})
    return MqttBridge(settings, [HomeDevice("box", "Emotion DJ box")], say=(lines if lines is not None else []).append).start()


def configs(client: HomeAssistantClient) -> set[str]:
    return {t for t in client.topics("homeassistant/") if t.endswith("/config")}


@needs_mosquitto
def test_the_bridge_announces_sends_only_changes_and_takes_valid_commands(tmp_path, caplog):
    with Mosquitto(tmp_path) as broker:
        ha = HomeAssistantClient(broker)
        bridge = bridge_for(broker)
        try:
            wait_for(lambda: len(configs(ha)) == 11, 20, "11 discovery configs")
            assert ha.latest("emotion_dj/box/availability") == "online"
            room = device_states(MoodPoint(0.5, 0.2), 2)["room"]
            for _ in range(5):  # the same state offered again and again is sent once
                bridge.offer("box", {"room": room})
                time.sleep(0.1)
            wait_for(lambda: ha.latest("emotion_dj/box/room") == room, 10, "the room's state")
            time.sleep(PUBLISH_ROUNDS)
            assert ha.count("emotion_dj/box/room") == 1
            with caplog.at_level(logging.WARNING, logger="emotion_dj.home.bridge"):
                for topic, payload in [("emotion_dj/box/dj/set", "maybe"), ("emotion_dj/box/dj/target/set", "calm"),
                                       ("emotion_dj/box/playlist/make", "PRESS")]:
                    ha.send(topic, payload)
                taken = []
                wait_for(lambda: taken.extend(bridge.take_commands()) or len(taken) == 2, 10, "two commands")
            assert taken == [("box", {"target": "calm"}), ("box", {"playlist": True})]
            assert any("ignored 'maybe' on emotion_dj/box/dj/set" in r.getMessage() for r in caplog.records)
            # Home Assistant restarts: it asks for the configs again by saying it is online
            ha.forget()
            ha.send("homeassistant/status", "online")
            wait_for(lambda: len(configs(ha)) == 11, 10, "the configs again after Home Assistant's restart")
            assert bridge.announcements == 2
        finally:
            bridge.stop()
            wait_for(lambda: ha.latest("emotion_dj/box/availability") == "offline", 10, "offline on a clean stop")
            ha.close()


PUBLISH_ROUNDS = 1.0  # a few of the bridge's publishing rounds


@needs_mosquitto
def test_retained_commands_are_not_replayed_at_start_and_are_cleared_with_one_line_each(tmp_path):
    """A retained PRESS would make a playlist at every start, a retained ON switch the DJ on."""
    with Mosquitto(tmp_path) as broker:
        ha = HomeAssistantClient(broker)
        wait_for(lambda: ha.client.is_connected(), 20, "Home Assistant's client")
        retained = {"emotion_dj/box/playlist/make": "PRESS", "emotion_dj/box/dj/set": "ON",
                    "emotion_dj/box/dj/target/set": "calm"}
        for topic, payload in retained.items():
            ha.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(timeout=5)
        lines: list[str] = []
        settings = MqttSettings.from_url(f"mqtt://127.0.0.1:{broker.port}", {"EMOTION_DJ_MQTT_ID": "box"})
        bridge = MqttBridge(settings, [HomeDevice("box", "Emotion DJ box", dj=True)], say=lines.append).start()
        try:
            wait_for(lambda: sum("retained command" in line for line in lines) == 3, 20, "a line per retained command")
            time.sleep(PUBLISH_ROUNDS)
            assert bridge.take_commands() == []
            assert all(any(f"'{payload}' on {topic}" in line for line in lines) for topic, payload in retained.items())
            later = HomeAssistantClient(broker)  # a new subscriber gets no retained command any more
            wait_for(lambda: later.latest("emotion_dj/box/availability") == "online", 20, "the later client")
            assert not any(later.latest(topic) for topic in retained)
            later.close()
            ha.send("emotion_dj/box/playlist/make", "PRESS")  # a live press still works
            taken = []
            wait_for(lambda: taken.extend(bridge.take_commands()) or taken, 10, "the live press")
            assert taken == [("box", {"playlist": True})]
        finally:
            bridge.stop()
            ha.close()


@needs_mosquitto
def test_a_broker_restarted_mid_run_gets_the_configs_and_only_the_newest_state(tmp_path):
    with Mosquitto(tmp_path) as broker:
        lines: list[str] = []
        bridge = bridge_for(broker, lines=lines)
        try:
            wait_for(lambda: bridge.connected, 20, "the first connection")
            broker.kill()
            wait_for(lambda: not bridge.connected, 20, "the bridge to see the broker gone")
            for n in range(200):  # what changes while the broker is away is not queued: only the newest is sent
                bridge.offer("box", {"faces": str(n)})
            broker.start()  # nothing persists: the new broker knows no config and no state
            ha = HomeAssistantClient(broker)
            wait_for(lambda: len(configs(ha)) == 11, 60, "the configs announced again after the restart")
            wait_for(lambda: ha.latest("emotion_dj/box/faces") == "199", 10, "the newest state")
            assert ha.count("emotion_dj/box/faces") == 1
            assert ha.latest("emotion_dj/box/availability") == "online" and bridge.announcements == 2
            assert any(line.startswith("lost mqtt://127.0.0.1") for line in lines)
            assert any(line.startswith("reconnected to") for line in lines)
            ha.close()
        finally:
            bridge.stop()


@needs_mosquitto
def test_a_password_broker_takes_the_right_password_and_a_wrong_one_is_one_line_without_it(tmp_path):
    with Mosquitto(tmp_path, users={"dj": SECRET}) as broker:
        url = f"mqtt://dj@127.0.0.1:{broker.port}"
        lines: list[str] = []
        wrong = bridge_for(broker, url, lines, EMOTION_DJ_MQTT_PASSWORD="not-it")
        right = bridge_for(broker, url, EMOTION_DJ_MQTT_PASSWORD=SECRET)
        try:
            wait_for(lambda: right.connected, 20, "the right password to connect")
            wait_for(lambda: lines, 20, "the wrong password's line")
            assert not wrong.connected
            time.sleep(4)  # a few retries (every 1 s, then 2 s...)
            assert len(lines) == 1, lines  # one line, not "refused" then "lost ... (Unspecified error)" per retry
            assert "refused the connection" in lines[0] and "EMOTION_DJ_MQTT_PASSWORD" in lines[0]
            assert all(SECRET not in line and "not-it" not in line for line in lines)
        finally:
            right.stop()
            wrong.stop()


@needs_mosquitto
def test_tls_works_with_the_ca_file_and_fails_without_it(tmp_path):
    with Mosquitto(tmp_path, tls=True) as broker:
        url = f"mqtts://127.0.0.1:{broker.port}"
        trusted = bridge_for(broker, url, EMOTION_DJ_MQTT_CA=str(broker.ca))
        lines: list[str] = []
        untrusted = bridge_for(broker, url, lines)  # the system's CAs do not know a self-signed certificate
        ha = HomeAssistantClient(broker)
        try:
            wait_for(lambda: len(configs(ha)) == 11, 20, "the configs over TLS")
            wait_for(lambda: lines, 20, "the untrusted connection's line")
            assert not untrusted.connected and lines[0].startswith(f"cannot reach {url}")
        finally:
            ha.close()
            trusted.stop()
            untrusted.stop()


def test_a_broker_that_never_answers_holds_nothing_and_is_dialled_again(tmp_path):
    with SilentBroker() as silent:
        started = time.monotonic()
        bridge = bridge_for(silent, EMOTION_DJ_MQTT_KEEPALIVE="1")
        assert time.monotonic() - started < 0.5  # start() dials in the background
        for n in range(100):
            bridge.offer("box", {"faces": str(n)})
        wait_for(lambda: silent.connections >= 2, 30, "a second try after the first went unanswered")
        assert not bridge.connected
        stopping = time.monotonic()
        bridge.stop(timeout=1.0)
        assert time.monotonic() - stopping < 1.5


# -- the app ----------------------------------------------------------------------------------------------------
def start_app(source: str, broker_port: int, tmp_path, fake: FakeSpotify | None = None, *args: str, user: str = "", **env: str):
    """`emotion-dj --source SOURCE --headless --mqtt mqtt://[USER@]127.0.0.1:PORT ARGS`, logged in to the stand-in if
    given."""
    extra = {"EMOTION_DJ_MQTT_ID": "box", "EMOTION_DJ_DATA": str(tmp_path / "data"), "BROWSER": "true"}
    if fake is not None:
        settings = settings_for(fake, tmp_path)
        extra.update(SPOTIPY_CLIENT_ID="test-client", SPOTIFY_API_URL=settings.api_url, SPOTIFY_ACCOUNTS_URL=fake.url,
                     SPOTIFY_TOKEN_CACHE=str(settings.token_cache))
    return processes.start([sys.executable, "-m", "emotion_dj", "--source", source, "--headless", "--no-open",
                            "--mqtt", f"mqtt://{user + '@' if user else ''}127.0.0.1:{broker_port}", *args], cwd=ROOT,
                           env={**os.environ, **extra, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def state(ha: HomeAssistantClient, name: str) -> dict | None:
    payload = ha.latest(f"emotion_dj/box/{name}")
    return None if payload is None else json.loads(payload)


@needs_mosquitto
def test_the_app_appears_in_home_assistant_updates_its_sensors_and_obeys_its_controls(tmp_path):
    fake = FakeSpotify()
    fake.catalog, fake.track_seconds = Catalog(seed=7), 30.0
    fake.start()
    try:
        with Mosquitto(tmp_path) as broker, MjpegServer(frames=10**6) as stream:
            ha = HomeAssistantClient(broker)
            app = start_app(stream.url, broker.port, tmp_path, fake)
            wait_for(lambda: len(configs(ha)) == 11, 120, "the app's 11 discovery configs")
            wait_for(lambda: (state(ha, "room") or {}).get("faces") == 2, 60, "the demo's two faces in the room's state")
            room, face = state(ha, "room"), state(ha, "face")
            assert room["mood"] != "none" and -1 <= room["valence"] <= 1 and -1 <= room["arousal"] <= 1
            assert face["expression"] in face["probs"] and abs(sum(face["probs"].values()) - 1) < 0.05
            wait_for(lambda: int(ha.latest("emotion_dj/box/fps") or 0) > 0, 30, "a frame rate")
            assert state(ha, "dj")["state"] == "OFF"  # started without --dj
            # the button does what P does: a playlist in the stand-in, its link in the sensor
            ha.send("emotion_dj/box/playlist/make", "PRESS")
            wait_for(lambda: (state(ha, "playlist") or {}).get("url"), 60, "the playlist's link")
            assert len(fake.playlists) == 1 and state(ha, "playlist")["ok"] is True
            # the switch starts the DJ, which plays by itself; the select changes where it takes the room
            ha.send("emotion_dj/box/dj/set", "ON")
            wait_for(lambda: (state(ha, "dj") or {}).get("track"), 90, "the DJ's track")
            assert fake.played and state(ha, "dj")["state"] == "ON"
            ha.send("emotion_dj/box/dj/target/set", "calm")
            wait_for(lambda: (state(ha, "dj") or {}).get("target") == "calm", 30, "the DJ target calm")
            ha.send("emotion_dj/box/dj/target/set", "rave")  # not a target: ignored, with a log line
            ha.send("emotion_dj/box/dj/set", "OFF")
            wait_for(lambda: (state(ha, "dj") or {}).get("state") == "OFF", 30, "the DJ off")
            assert state(ha, "dj")["target"] == "calm"
            # SIGKILL: no goodbye, so the broker publishes the last will
            app.send_signal(signal.SIGKILL)
            _, err = app.communicate(timeout=30)
            wait_for(lambda: ha.latest("emotion_dj/box/availability") == "offline", 60, "the last will")
            ha.close()
    finally:
        fake.stop()
    assert "ignored 'rave' on emotion_dj/box/dj/target/set" in err


@needs_mosquitto
def test_the_app_keeps_going_while_the_broker_is_down_and_announces_again_when_it_returns(tmp_path):
    """With a login, and --verbose: the password shows in no output, whatever happens to the broker."""
    events = tmp_path / "events.jsonl"
    with Mosquitto(tmp_path, users={"dj": SECRET}) as broker, MjpegServer(frames=10**6) as stream:
        app = start_app(stream.url, broker.port, tmp_path, None, "--events", str(events), "--verbose", user="dj",
                        EMOTION_DJ_MQTT_PASSWORD=SECRET)
        ha = HomeAssistantClient(broker, "dj", SECRET)
        wait_for(lambda: len(configs(ha)) == 11, 120, "the app's discovery configs")
        ha.close()
        broker.kill()
        frames_at_kill = frame_count(events)
        time.sleep(3)
        frames_at_return = frame_count(events)  # the events are flushed every second
        broker.start()
        ha = HomeAssistantClient(broker, "dj", SECRET)
        wait_for(lambda: len(configs(ha)) == 11, 60, "the configs announced again")
        wait_for(lambda: state(ha, "room"), 10, "the room's state again")
        out, err, took = sigterm(app)
        wait_for(lambda: ha.latest("emotion_dj/box/availability") == "offline", 20, "offline at a clean exit")
        ha.close()
    assert app.returncode == 0, err[-2000:]
    assert took < 5, f"SIGTERM took {took:.1f} s"
    assert "MQTT: lost mqtt://dj@127.0.0.1" in err and "MQTT: reconnected to" in err
    assert SECRET not in out + err
    # the camera went on while the broker was away: frames were processed then (its FPS pair is benchmarks/mqtt.py)
    assert frames_at_return > frames_at_kill, (frames_at_kill, frames_at_return)


def frame_count(events) -> int:
    with open(events) as lines:
        return sum(1 for line in lines if '"frame"' in line)


def sigterm(app) -> tuple[str, str, float]:
    asked = time.monotonic()
    app.send_signal(signal.SIGTERM)
    out, err = app.communicate(timeout=30)
    return out, err, time.monotonic() - asked


def test_the_app_with_a_silent_broker_runs_its_frames_and_exits_at_once(tmp_path):
    with SilentBroker() as silent:
        done = subprocess.run([sys.executable, "-m", "emotion_dj", "--source", "demo", "--headless", "--max-frames", "120",
                               "--mqtt", f"mqtt://127.0.0.1:{silent.port}"], cwd=ROOT, capture_output=True, text=True,
                              timeout=120, env={**os.environ, "EMOTION_DJ_MQTT_ID": "box"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "120 frames" in done.stdout and silent.connections >= 1
