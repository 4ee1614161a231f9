"""What a device (the app, or one room of a fleet) looks like to Home Assistant: its MQTT discovery configs, the
state topics they read, and the commands its controls send. Pure data, no network: the bridge sends it.

Topics, under the base topic `emotion_dj/<device id>`:

    room              {"mood", "valence", "arousal", "intensity", "faces"}  the room's face-weighted mood point
    face              {"expression", "score", "probs"}                      the main face (the app only)
    faces, fps        a number
    dj                {"state": "ON"|"OFF", "target", "track", "title", "artist", "status"}
    playlist          {"url", "ok", "status"}                               the last playlist made
    playlist/make     <- "PRESS"                                            the "Make playlist" button
    dj/set            <- "ON" | "OFF"                                       the "DJ" switch
    dj/target/set     <- match | calm | energize | uplift                   the "DJ target" select

Discovery follows Home Assistant's MQTT discovery docs: one retained config per entity at
`<prefix>/<component>/<device id>/<entity>/config`, each with the device block and the availability topic.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from emotion_dj import __version__
from emotion_dj.music.follow import TARGETS
from emotion_dj.music.plane import MoodPoint, nearest_class

BASE = "emotion_dj"
PRESS = "PRESS"
ON, OFF = "ON", "OFF"
NOBODY = "none"  # the mood and expression sensors' state when no face is in view


@dataclass(frozen=True)
class HomeDevice:
    id: str  # device id: topics and unique ids
    name: str  # what Home Assistant shows
    main_face: bool = True  # the app has a main face and FPS; a fleet room has neither
    dj: bool = True  # a DJ that the switch and the select drive

    @property
    def base(self) -> str:
        return f"{BASE}/{self.id}"

    def topic(self, name: str) -> str:
        return f"{self.base}/{name}"


def entities(device: HomeDevice) -> list[tuple[str, str, dict]]:
    """(component, entity id, its config without the shared keys) for each entity the device has."""
    t = device.topic
    found = [
        ("sensor", "mood", {"name": "Room mood", "icon": "mdi:emoticon-outline", "state_topic": t("room"),
                            "value_template": "{{ value_json.mood }}", "json_attributes_topic": t("room")}),
        ("sensor", "valence", {"name": "Room valence", "state_topic": t("room"), "state_class": "measurement",
                               "value_template": "{{ value_json.valence }}", "icon": "mdi:emoticon-happy-outline"}),
        ("sensor", "arousal", {"name": "Room arousal", "state_topic": t("room"), "state_class": "measurement",
                               "value_template": "{{ value_json.arousal }}", "icon": "mdi:lightning-bolt-outline"}),
        ("sensor", "faces", {"name": "Faces", "state_topic": t("faces"), "state_class": "measurement",
                             "icon": "mdi:account-group"}),
        ("sensor", "playlist", {"name": "Last playlist", "state_topic": t("playlist"), "icon": "mdi:playlist-music",
                                "value_template": "{{ value_json.url }}", "json_attributes_topic": t("playlist")}),
        ("button", "make_playlist", {"name": "Make playlist", "command_topic": t("playlist/make"),
                                     "payload_press": PRESS, "icon": "mdi:playlist-plus"}),
    ]
    if device.main_face:
        found += [
            ("sensor", "expression", {"name": "Main face", "state_topic": t("face"), "icon": "mdi:face-recognition",
                                      "value_template": "{{ value_json.expression }}", "json_attributes_topic": t("face"),
                                      "json_attributes_template": "{{ value_json.probs | tojson }}"}),
            ("sensor", "fps", {"name": "FPS", "state_topic": t("fps"), "unit_of_measurement": "fps",
                               "state_class": "measurement", "entity_category": "diagnostic", "icon": "mdi:speedometer"}),
        ]
    if device.dj:
        found += [
            ("sensor", "dj_track", {"name": "DJ track", "state_topic": t("dj"), "icon": "mdi:music",
                                    "value_template": "{{ value_json.track }}", "json_attributes_topic": t("dj")}),
            ("switch", "dj", {"name": "DJ", "command_topic": t("dj/set"), "state_topic": t("dj"),
                              "value_template": "{{ value_json.state }}", "payload_on": ON, "payload_off": OFF,
                              "icon": "mdi:account-music"}),
            ("select", "dj_target", {"name": "DJ target", "command_topic": t("dj/target/set"), "state_topic": t("dj"),
                                     "value_template": "{{ value_json.target }}", "options": list(TARGETS),
                                     "icon": "mdi:target"}),
        ]
    return found


def discovery_messages(device: HomeDevice, prefix: str, availability: str) -> dict[str, str]:
    """topic -> retained JSON config, for every entity of the device."""
    block = {"identifiers": [device.id], "name": device.name, "manufacturer": "Emotion DJ", "model": "Emotion DJ",
             "sw_version": __version__}
    messages = {}
    for component, entity, config in entities(device):
        full = {**config, "unique_id": f"{device.id}_{entity}", "availability_topic": availability,
                "payload_available": "online", "payload_not_available": "offline", "device": block,
                "origin": {"name": "emotion-dj", "sw_version": __version__}}
        messages[f"{prefix}/{component}/{device.id}/{entity}/config"] = json.dumps(full, separators=(",", ":"))
    return messages


def command_topics(device: HomeDevice) -> tuple[str, ...]:
    return tuple(config["command_topic"] for _, _, config in entities(device) if "command_topic" in config)


def parse_command(device: HomeDevice, topic: str, payload: str) -> dict | None:
    """A control's message -> {"playlist": True} or a DJ command ({"on": bool} / {"target": name}); None if invalid."""
    if topic == device.topic("playlist/make") and payload == PRESS:
        return {"playlist": True}
    if device.dj and topic == device.topic("dj/set") and payload in (ON, OFF):
        return {"on": payload == ON}
    if device.dj and topic == device.topic("dj/target/set") and payload in TARGETS:
        return {"target": payload}
    return None


# -- states -------------------------------------------------------------------------------------------------
def device_states(room: MoodPoint | None, faces: int, main: tuple[str, float, dict] | None = None, fps: float | None = None,
                  dj: dict | None = None, playlist: tuple[str | None, bool | None, str] | None = None,
                  main_face: bool = True) -> dict[str, str]:
    """The state topics' payloads (topic name -> JSON or a number), rounded so that they change only when it shows.

    room: the face-weighted mood point (None: nobody in view); main: the main face's (expression, score, probabilities);
    dj: music/dj.py's state (None: no DJ yet); playlist: the last playlist's (url, ok, status line).
    """
    point = None if room is None else room.rounded(2)
    states = {
        "room": dumps({"mood": NOBODY if room is None else nearest_class(room), "faces": faces,
                       **(point or {"valence": None, "arousal": None, "intensity": None})}),
        "faces": str(faces),
        "dj": dj_state(dj),
    }
    url, ok, status = playlist or (None, None, "")
    states["playlist"] = dumps({"url": url or "", "ok": ok, "status": status})
    if main_face:
        expression, score, probs = main or (NOBODY, None, {})
        states["face"] = dumps({"expression": expression, "score": None if score is None else round(score, 2),
                                "probs": {name: round(p, 2) for name, p in probs.items()}})
        states["fps"] = str(round(fps or 0))
    return states


def dj_state(dj: dict | None) -> str:
    """The switch's, the select's and the track sensor's topic."""
    dj = dj or {}
    playing = dj.get("now_playing") or {}
    title, artist = playing.get("title", ""), playing.get("artist", "")
    return dumps({"state": ON if dj.get("on") else OFF, "target": dj.get("target", "match"),
                  "track": f"{title} - {artist}" if title else "", "title": title, "artist": artist,
                  "status": dj.get("status", "")})


def dumps(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
