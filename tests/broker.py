"""A real MQTT broker for the tests (Debian's Mosquitto, started on 127.0.0.1 on a free port, with or without a
password, with or without TLS), a client that listens as Home Assistant does, and a broker that says nothing."""
from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.test_music import free_port

needs_mosquitto = pytest.mark.skipif(shutil.which("mosquitto") is None,
                                     reason="needs Debian's mosquitto (apt-get install mosquitto; .ci/run installs it)")


class PortTaken(RuntimeError):
    pass


class Mosquitto:
    """`with Mosquitto(tmp_path) as broker:`; kill() and start() again on the same port (nothing persists)."""

    def __init__(self, folder: Path, users: dict[str, str] | None = None, tls: bool = False):
        self.folder, self.users, self.tls = folder, users or {}, tls
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.started_once = False
        self.ca = self.folder / "ca.pem" if tls else None
        self.config = self._write_config()

    def _write_config(self) -> Path:
        # `user`: as root, Mosquitto would drop to its own user, which cannot read the test's private folder
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "log_dest stderr", "log_type error",
                 f"user {getpass.getuser()}"]
        if self.users:
            passwords = self.folder / "passwords"
            for n, (user, password) in enumerate(self.users.items()):
                subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if n == 0 else []), str(passwords), user, password],
                               check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines += ["allow_anonymous true"]
        if self.tls:
            key, cert = self.folder / "key.pem", self.folder / "ca.pem"
            # one self-signed certificate for 127.0.0.1: it is the broker's and the CA the client trusts
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                           check=True, capture_output=True)
            lines += [f"certfile {cert}", f"keyfile {key}"]
        path = self.folder / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> Mosquitto:
        """Start (or start again, on the same port). Mosquitto cannot pick a port itself: if another process took
        the free one first, a first start moves to another free port and tries again."""
        for attempt in range(5):
            try:
                return self._start_once()
            except PortTaken:
                if self.started_once or attempt == 4:
                    raise
                self.port = free_port()
                self.config = self._write_config()
        raise AssertionError("unreachable")

    def _start_once(self) -> Mosquitto:
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                said = self.process.stderr.read()[-500:]
                if "Address already in use" in said:
                    raise PortTaken(said)
                raise RuntimeError(f"mosquitto did not start: {said}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                self.started_once = True  # from now on the port is this broker's: a restart keeps it
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen within 20 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()


class HomeAssistantClient:
    """Subscribes as Home Assistant does (the discovery prefix and the device's topics) and keeps every message."""

    def __init__(self, broker: Mosquitto, user: str | None = None, password: str | None = None):
        self.messages: list[tuple[str, str, bool]] = []  # (topic, payload, retained)
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"ha-test-{time.monotonic_ns()}")
        if user:
            self.client.username_pw_set(user, password)
        if broker.tls:
            self.client.tls_set(ca_certs=str(broker.ca))
        self.client.on_connect = lambda c, *_: c.subscribe([("homeassistant/#", 1), ("emotion_dj/#", 1)])
        self.client.on_message = self._keep
        self.client.reconnect_delay_set(1, 2)
        self.client.connect_async("127.0.0.1", broker.port, keepalive=10)
        self.client.loop_start()

    def _keep(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload.decode(), bool(message.retain)))

    def latest(self, topic: str) -> str | None:
        with self._lock:
            return next((p for t, p, _ in reversed(self.messages) if t == topic), None)

    def count(self, topic: str) -> int:
        with self._lock:
            return sum(1 for t, _, _ in self.messages if t == topic)

    def topics(self, prefix: str = "") -> set[str]:
        with self._lock:
            return {t for t, _, _ in self.messages if t.startswith(prefix)}

    def send(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(timeout=5)

    def forget(self) -> None:
        with self._lock:
            self.messages.clear()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class SilentBroker:
    """Accepts TCP connections, reads what comes, and never answers (not even CONNACK); counts the connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)

    def __enter__(self) -> SilentBroker:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()
        for conn in self._open:
            conn.close()
