"""The smart home: the room's mood, the main face and the DJ in Home Assistant over MQTT (docs/HOME_ASSISTANT.md).

`settings.py` reads --mqtt and its environment, `discovery.py` says what a device looks like to Home Assistant
(pure data), `bridge.py` is the one connection (paho-mqtt), off the frame thread. Imports `core/` and `music/` only;
paho is imported when a bridge starts, so the app runs without it unless --mqtt is given.
"""
