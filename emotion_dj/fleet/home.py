"""A fleet in Home Assistant: each room is its own device (its mood, faces, last playlist, and its DJ where the room
has one), all over one MQTT connection (home/bridge.py). The fleet's watch loop calls `tick()`; playlists are made
on a thread of their own, as the single app's music worker does, so a slow Spotify never holds the loop."""
from __future__ import annotations

import threading
from collections.abc import Callable

from emotion_dj.fleet.service import make_playlist
from emotion_dj.home.bridge import MqttBridge
from emotion_dj.home.discovery import HomeDevice, device_states
from emotion_dj.home.settings import MqttSettings, device_id
from emotion_dj.music.plane import MoodPoint

PLAYLIST_TRACKS = 20


def room_device(settings: MqttSettings, room: str, has_dj: bool) -> HomeDevice:
    return HomeDevice(f"{settings.device_id}_{device_id(room)}", f"Emotion DJ {room}", main_face=False, dj=has_dj)


class FleetHome:
    def __init__(self, settings: MqttSettings, rooms: list[str], djs: dict, say: Callable[[str], None] | None = None):
        self.djs = djs  # room -> its DJ
        self.devices = {room: room_device(settings, room, room in djs) for room in rooms}
        self.room_of = {device.id: room for room, device in self.devices.items()}
        self.playlists: dict[str, tuple[str | None, bool | None, str]] = {}  # room -> (url, ok, status)
        self.bridge = MqttBridge(settings, self.devices.values(), say=say)

    def start(self) -> FleetHome:
        self.bridge.start()
        return self

    def stop(self) -> None:
        self.bridge.stop(timeout=1.0)

    def tick(self, moods: dict[str, dict | None]) -> None:
        """moods: Rooms.all(); the controls' commands first, then every room's state (sent only where it changed)."""
        for device, command in self.bridge.take_commands():
            room = self.room_of[device]
            if command.get("playlist"):
                self._playlist(room, moods.get(room))
            elif room in self.djs:
                if "target" in command:
                    self.djs[room].set_target(command["target"])
                if "on" in command:
                    self.djs[room].set_on(command["on"])
        for room, device in self.devices.items():
            mood = moods.get(room) or {}
            point = mood.get("point") if mood.get("faces") else None
            dj = self.djs[room].state if room in self.djs else None
            self.bridge.offer(device.id, device_states(None if point is None else MoodPoint(point["valence"], point["arousal"]),
                                                       int(mood.get("faces") or 0), dj=dj, playlist=self.playlists.get(room),
                                                       main_face=False))

    def _playlist(self, room: str, mood: dict | None) -> None:
        if self.playlists.get(room, (None, None, ""))[2] == "making a playlist...":
            return  # one at a time per room, as the P key
        if not mood or not mood.get("emotion"):
            self.playlists[room] = (None, False, f"room {room} has no faces in view: no mood to play")
            return
        self.playlists[room] = (None, None, "making a playlist...")

        def work():
            outcome = make_playlist(mood, PLAYLIST_TRACKS, room=room)
            self.playlists[room] = (outcome["url"], outcome["ok"], outcome["message"])
        threading.Thread(target=work, name=f"playlist-{room}", daemon=True).start()
