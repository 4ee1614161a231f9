"""One connection to an MQTT broker, on paho-mqtt, for one or more Home Assistant devices (the app, or each room of
a fleet): discovery, availability with a last will, state topics, and the controls' commands.

It never slows the camera. The app's thread only calls `offer()` (a dict update under a lock) and
`take_commands()`; paho's network thread and this bridge's publisher thread do everything else. The publisher sends
a topic only when its payload changed, at most every PUBLISH_INTERVAL (FPS at most every FPS_INTERVAL), and only
while connected: what changes while the broker is away is not queued, the newest value is sent on reconnection.
Messages go with QoS 1 into paho's queue, capped at `max_queued` (a full queue drops the newest change; it is sent
again once the queue drains), so a stalled broker cannot make memory grow. A broker that accepts the connection and
then says nothing is dropped after 1.5 keepalives, and dialled again with a backoff from 1 s to RECONNECT_MAX_S.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from emotion_dj.home.discovery import BASE, HomeDevice, command_topics, discovery_messages, parse_command
from emotion_dj.home.settings import MqttSettings

log = logging.getLogger(__name__)
PUBLISH_INTERVAL = 0.25  # seconds between rounds of state updates: at most 4 a second per topic
FPS_INTERVAL = 5.0  # FPS changes a little all the time; Home Assistant's history needs it every few seconds at most
RECONNECT_MAX_S = 30
MAX_COMMANDS = 32  # commands waiting for the app's thread; older ones go first


class MqttBridge:
    def __init__(self, settings: MqttSettings, devices: Iterable[HomeDevice], say: Callable[[str], None] | None = None):
        self.settings = settings
        self.devices = {device.id: device for device in devices}
        self.availability = f"{BASE}/{settings.device_id}/availability"
        self.say = say or (lambda line: print(f"MQTT: {line}", file=sys.stderr, flush=True))
        self.max_queued = 64 + 16 * len(self.devices)  # every config of every device fits, with room for states
        self.announcements = 0  # times the discovery configs were sent (first connection, reconnections, HA restarts)
        self._latest: dict[str, str] = {}  # topic -> the newest payload offered
        self._sent: dict[str, tuple[str, float]] = {}  # topic -> (payload, when) handed to paho since the connection
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._commands: deque[tuple[str, dict]] = deque(maxlen=MAX_COMMANDS)
        self._client = None
        self._publisher: threading.Thread | None = None
        self._ever_connected = False
        self._refused = False  # the broker refused the last connection (a wrong password): no "lost" line follows
        self._last_line = ""

    # -- the app's side ----------------------------------------------------------------------------------------
    def offer(self, device_id: str, states: dict[str, str]) -> None:
        """The newest payload of some of a device's state topics (name -> payload); sent on change, off this thread."""
        base = self.devices[device_id].base
        with self._lock:
            for name, payload in states.items():
                self._latest[f"{base}/{name}"] = payload
        self._wake.set()

    def take_commands(self) -> list[tuple[str, dict]]:
        """(device id, command) for each valid control message since the last call, oldest first."""
        if not self._commands:  # the usual case, every loop of the app: nothing to take
            return []
        taken = []
        while self._commands:
            taken.append(self._commands.popleft())
        return taken

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected()

    # -- life cycle ----------------------------------------------------------------------------------------------
    def start(self) -> MqttBridge:
        """Dial the broker in the background: a broker that is down, slow or silent never holds the caller."""
        import paho.mqtt.client as mqtt

        s = self.settings
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"emotion-dj-{s.device_id}-{os.getpid()}")
        client.will_set(self.availability, "offline", qos=1, retain=True)
        if s.username:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            client.tls_set_context(s.tls_context())
        client.reconnect_delay_set(min_delay=1, max_delay=RECONNECT_MAX_S)
        client.max_queued_messages_set(self.max_queued)
        client.on_connect, client.on_connect_fail = self._on_connect, self._on_connect_fail
        client.on_disconnect, client.on_message = self._on_disconnect, self._on_message
        self._client = client
        client.connect_async(s.host, s.port, keepalive=s.keepalive)
        client.loop_start()
        self._publisher = threading.Thread(target=self._publish_loop, name="mqtt-publish", daemon=True)
        self._publisher.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Say offline (a clean exit sends no last will), disconnect, and never wait longer than `timeout` in all."""
        deadline = time.monotonic() + timeout
        self._closing.set()
        self._wake.set()
        client = self._client
        if client is None:
            return
        if self._publisher is not None:
            self._publisher.join(timeout=max(0.0, deadline - time.monotonic()))
        if client.is_connected():
            info = client.publish(self.availability, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=max(0.05, deadline - time.monotonic()))
            except (RuntimeError, ValueError):  # the queue was full or the connection went meanwhile
                pass
        client.disconnect()
        # loop_stop() joins paho's thread without a timeout; a TLS handshake to a silent broker can hold it for its
        # connect timeout, so it is joined from a helper that the exit does not wait for past the deadline
        stopper = threading.Thread(target=client.loop_stop, name="mqtt-stop", daemon=True)
        stopper.start()
        stopper.join(timeout=max(0.0, deadline - time.monotonic()))

    # -- paho's thread -------------------------------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = True
            self._line(f"{self.settings} refused the connection: {reason_code}"
                       + (" (check the user and $EMOTION_DJ_MQTT_PASSWORD)" if "authori" in str(reason_code).lower()
                          or "password" in str(reason_code).lower() else ""))
            return
        self._refused = False
        try:
            # the commands first: a fault while announcing must not leave the controls deaf
            topics = [(topic, 1) for device in self.devices.values() for topic in command_topics(device)]
            client.subscribe(topics + [(f"{self.settings.discovery_prefix}/status", 1)])
            client.publish(self.availability, "online", qos=1, retain=True)
            self._announce(client)
            self._line(f"{'reconnected' if self._ever_connected else 'connected'} to {self.settings} (Home Assistant "
                       f"discovery under {self.settings.discovery_prefix}/, {len(self.devices)} device(s))")
            self._ever_connected = True
        except Exception:  # noqa: BLE001 - an exception here would end paho's thread, and with it every reconnection
            log.exception("MQTT: announcing failed")

    def _announce(self, client) -> None:
        """Every device's retained configs, then every state again (on connection, and when Home Assistant restarts)."""
        for device in self.devices.values():
            for topic, config in discovery_messages(device, self.settings.discovery_prefix, self.availability).items():
                client.publish(topic, config, qos=1, retain=True)
        self.announcements += 1
        with self._lock:
            self._sent.clear()
        self._wake.set()

    def _on_connect_fail(self, client, userdata) -> None:
        self._line(f"cannot reach {self.settings}; trying again (every 1 to {RECONNECT_MAX_S} s)")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if not self._closing.is_set() and not self._refused:  # a refusal has said its line already
            self._line(f"lost {self.settings} ({reason_code}); reconnecting")

    def _on_message(self, client, userdata, message) -> None:
        try:
            payload = message.payload.decode("utf-8", "replace").strip()
            if message.topic == f"{self.settings.discovery_prefix}/status":
                if payload == "online":  # Home Assistant restarted: it wants the configs again
                    self._announce(client)
                return
            commands = {topic for device in self.devices.values() for topic in command_topics(device)}
            if message.topic in commands and message.retain:
                # A command is an event, not a state: a retained PRESS would make a playlist at every start. It is
                # ignored, and cleared (an empty retained message) so that it is not replayed again.
                client.publish(message.topic, b"", qos=1, retain=True)
                shown = "".join(c if c.isprintable() else "?" for c in payload[:40])
                self.say(f"ignored the retained command '{shown}' on {message.topic} (commands are not replayed; "
                         "cleared it on the broker)")
                return
            if message.topic in commands and not payload:
                return  # the echo of a cleared retained command
            for device in self.devices.values():
                command = parse_command(device, message.topic, payload)
                if command is not None:
                    self._commands.append((device.id, command))
                    return
            shown = "".join(c if c.isprintable() else "?" for c in payload[:40])
            log.warning("MQTT: ignored '%s' on %s (not a command this device knows)", shown, message.topic)
        except Exception:  # noqa: BLE001 - as in _on_connect: paho's thread must live on
            log.exception("MQTT: a message could not be handled")

    def _line(self, text: str) -> None:
        if text != self._last_line:  # one line per change of state, not one per retry
            self._last_line = text
            self.say(text)

    # -- the publisher thread ------------------------------------------------------------------------------------
    def _publish_loop(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._closing.is_set():
                return
            if self.connected:
                try:
                    self._publish_due(time.monotonic())
                except Exception:  # noqa: BLE001 - a bug here must not end the updates for the rest of the run
                    log.exception("MQTT: publishing failed")
            self._closing.wait(PUBLISH_INTERVAL)

    def _publish_due(self, now: float) -> None:
        import paho.mqtt.client as mqtt

        with self._lock:
            due = [(topic, payload) for topic, payload in self._latest.items()
                   if self._sent.get(topic, ("", -1e9))[0] != payload
                   and now - self._sent.get(topic, ("", -1e9))[1] >= (FPS_INTERVAL if topic.endswith("/fps") else 0)]
        for topic, payload in due:
            info = self._client.publish(topic, payload, qos=1, retain=True)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:  # the queue is full, or the connection just went: try again later
                self._wake.set()
                return
            with self._lock:
                self._sent[topic] = (payload, now)
