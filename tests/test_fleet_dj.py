"""A fleet room with a DJ: the room's face-weighted mood drives it, on the fleet's one store."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from emotion_dj.fleet.config import FleetConfigError, load_fleet
from tests import processes
from tests.broker import HomeAssistantClient, Mosquitto, needs_mosquitto
from tests.budget import Budget
from tests.conftest import ROOT
from tests.fake_catalog import Catalog
from tests.fake_spotify import FakeSpotify
from tests.test_fleet import wait_for
from tests.test_home import configs
from tests.test_music import free_port, settings_for

ROOMED = '[serve]\nport = {port}\n\n[[camera]]\nname = "door"\nsource = "demo"\nroom = "hall"\nloop = true\n\n{rooms}'


def test_a_room_table_is_checked_before_anything_starts(tmp_path):
    path = tmp_path / "fleet.toml"
    path.write_text(ROOMED.format(port=8008, rooms='[[room]]\nname = "hall"\ndj = true\ndevice = "Hall speaker"\n'))
    (room,) = load_fleet(path).dj_rooms
    assert (room.name, room.dj, room.device, room.target) == ("hall", True, "Hall speaker", "match")
    for rooms, message in (('[[room]]\nname = "attic"\ndj = true\n', "no camera is in room 'attic'"),
                           ('[[room]]\nname = "hall"\ntarget = "party"\n', "target 'party': choose from match"),
                           ('[[room]]\nname = "hall"\ndj = "yes"\n', "dj must be bool"),
                           ('[[room]]\nname = "hall"\n\n[[room]]\nname = "hall"\n', "one [[room]] table")):
        path.write_text(ROOMED.format(port=8008, rooms=rooms))
        with pytest.raises(FleetConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            load_fleet(path)


@needs_mosquitto
def test_a_fleet_room_with_a_dj_plays_by_itself_and_is_a_home_assistant_device(tmp_path):
    """One Ray fleet for both (Ray's start is the slow part): the room's DJ plays, and over MQTT the room is its own
    device, with its mood, a playlist button and the DJ's switch."""
    pytest.importorskip("ray.serve")
    budget = Budget(540)  # the whole test, within pytest's 600 s: each wait takes at most what is left
    fake = FakeSpotify()
    fake.catalog, fake.track_seconds = Catalog(seed=7), 8.0
    fake.start()
    settings = settings_for(fake, tmp_path)
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('[model]\nengine = "onnx"\ndevice = "cpu"\nthreads = 1\n\n'
                     + ROOMED.format(port=free_port(), rooms='[[room]]\nname = "hall"\ndj = true\n'))
    env = {**os.environ, "SPOTIPY_CLIENT_ID": "test-client", "SPOTIFY_API_URL": settings.api_url,
           "SPOTIFY_ACCOUNTS_URL": fake.url, "SPOTIFY_TOKEN_CACHE": str(settings.token_cache), "EMOTION_DJ_MQTT_ID": "fleet"}
    broker = Mosquitto(tmp_path / "broker").start()
    ha = HomeAssistantClient(broker)
    try:
        run = processes.start([sys.executable, "-m", "emotion_dj", "fleet", str(fleet), "--mqtt",
                               f"mqtt://127.0.0.1:{broker.port}"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Ray's start (~12 s here, over 3 minutes with two busy loops on the two cores), the room's first moods, the
        # DJ's first track
        deadline = time.monotonic() + budget.left(420)
        while not fake.played and time.monotonic() < deadline:
            assert run.poll() is None, run.communicate()[1][-3000:]
            time.sleep(0.5)
        assert fake.played, "the room's DJ did not start playback"
        hall = "emotion_dj/fleet_hall"
        wait_for(lambda: len(configs(ha)) == 9, budget.left(60), "the room's 9 discovery configs")  # no main face, no FPS
        assert "homeassistant/switch/fleet_hall/dj/config" in configs(ha)
        wait_for(lambda: json.loads(ha.latest(f"{hall}/room") or "{}").get("faces") == 2, budget.left(60), "the room's two faces")
        wait_for(lambda: json.loads(ha.latest(f"{hall}/dj") or "{}").get("track"), budget.left(60), "the room DJ's track")
        ha.send(f"{hall}/playlist/make", "PRESS")
        wait_for(lambda: json.loads(ha.latest(f"{hall}/playlist") or "{}").get("url"), budget.left(60), "the room's playlist link")
        ha.send(f"{hall}/dj/set", "OFF")
        wait_for(lambda: json.loads(ha.latest(f"{hall}/dj") or "{}").get("state") == "OFF", budget.left(30), "the room's DJ off")
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=budget.left(120))
        wait_for(lambda: ha.latest("emotion_dj/fleet/availability") == "offline", budget.left(30), "offline when the fleet stops")
    finally:
        ha.close()
        broker.kill()
        fake.stop()
    assert run.returncode == 0, err[-3000:]
    assert "room hall DJ (match): DJ off" in out and "room hall DJ: playing" in out  # switched off from Home Assistant
    assert "MQTT: connected to mqtt://127.0.0.1" in out
    assert fake.player_writes[0][1] == "/v1/me/player/play"
