"""Where the MQTT broker is and how to log in: `--mqtt mqtt[s]://[user@]host[:port]` and a few environment variables.

The password never goes in the URL (it would show in `ps`, shell history and logs): it comes from
$EMOTION_DJ_MQTT_PASSWORD or the file named by $EMOTION_DJ_MQTT_PASSWORD_FILE, and nothing here ever prints it.
`str(settings)` is the URL without it, which is what every message shows.
"""
from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from emotion_dj.core.errors import UserError

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
DISCOVERY_PREFIX = "homeassistant"  # Home Assistant's default
ID_CHARACTERS = re.compile(r"[^a-z0-9_-]+")


class MqttSettingsError(UserError):
    """A bad --mqtt URL or MQTT setting; one line, never with the password in it."""


def device_id(text: str) -> str:
    """A name -> what MQTT topics and Home Assistant unique ids can hold: lower case, digits, '_' and '-'."""
    cleaned = ID_CHARACTERS.sub("_", text.strip().lower()).strip("_")
    return cleaned[:48] or "emotion_dj"


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None  # for mqtts: the CA that signed the broker's certificate (None: the system's CAs)
    discovery_prefix: str = DISCOVERY_PREFIX
    device_id: str = "emotion_dj"  # the base topic is emotion_dj/<device_id>; stays the same across restarts
    keepalive: int = 30  # seconds; a broker silent for 1.5x this is dropped and dialled again

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{host}:{self.port}"

    @classmethod
    def from_url(cls, url: str, environ: Mapping[str, str] | None = None) -> MqttSettings:
        env = os.environ if environ is None else environ
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise MqttSettingsError("--mqtt must look like mqtt://[user@]host[:port] or mqtts://..., with a port from 1 "
                                    "to 65535") from None
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise MqttSettingsError("--mqtt must look like mqtt://[user@]host[:port] or mqtts://[user@]host[:port]")
        if parts.password is not None:  # refused without echoing the URL: it holds the password
            raise MqttSettingsError("--mqtt must not hold the password: put it in $EMOTION_DJ_MQTT_PASSWORD or a file named "
                                    "by $EMOTION_DJ_MQTT_PASSWORD_FILE")
        if parts.path not in ("", "/") or parts.query:
            raise MqttSettingsError("--mqtt takes no path or query: mqtt://[user@]host[:port]")
        tls = parts.scheme == "mqtts"
        ca = env.get("EMOTION_DJ_MQTT_CA", "").strip()
        if ca and not Path(ca).is_file():
            raise MqttSettingsError(f"EMOTION_DJ_MQTT_CA: no such file: {ca}")
        if ca and not tls:
            raise MqttSettingsError("EMOTION_DJ_MQTT_CA is for TLS: use an mqtts:// URL")
        prefix = env.get("EMOTION_DJ_MQTT_DISCOVERY_PREFIX", DISCOVERY_PREFIX).strip().strip("/")
        if not prefix or any(c in prefix for c in "+#"):
            raise MqttSettingsError("EMOTION_DJ_MQTT_DISCOVERY_PREFIX must be a topic without wildcards (default homeassistant)")
        keepalive = env.get("EMOTION_DJ_MQTT_KEEPALIVE", "30").strip()
        if not keepalive.isdigit() or not 1 <= int(keepalive) <= 3600:
            raise MqttSettingsError(f"EMOTION_DJ_MQTT_KEEPALIVE must be whole seconds from 1 to 3600, got '{keepalive[:20]}'")
        username = unquote(parts.username) if parts.username else None
        return cls(host=parts.hostname, port=port or DEFAULT_PORTS[parts.scheme], tls=tls, username=username,
                   password=read_password(env) if username else None, ca_file=Path(ca) if ca else None,
                   discovery_prefix=prefix, device_id=device_id(env.get("EMOTION_DJ_MQTT_ID", "") or socket.gethostname()),
                   keepalive=int(keepalive))


def read_password(env: Mapping[str, str]) -> str | None:
    """$EMOTION_DJ_MQTT_PASSWORD, else the first line of $EMOTION_DJ_MQTT_PASSWORD_FILE (a Docker or systemd secret)."""
    if env.get("EMOTION_DJ_MQTT_PASSWORD"):
        return env["EMOTION_DJ_MQTT_PASSWORD"]
    path = env.get("EMOTION_DJ_MQTT_PASSWORD_FILE", "").strip()
    if not path:
        return None
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise MqttSettingsError(f"EMOTION_DJ_MQTT_PASSWORD_FILE: cannot read {path}: {error.strerror}") from None
    return lines[0] if lines else ""
