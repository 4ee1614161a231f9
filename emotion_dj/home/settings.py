"""Where the MQTT broker is and how to log in: `--mqtt mqtt[s]://[user@]host[:port]` and a few environment variables.

The password never goes in the URL (it would show in `ps`, shell history and logs): it comes from
$EMOTION_DJ_MQTT_PASSWORD or the file named by $EMOTION_DJ_MQTT_PASSWORD_FILE, and nothing here ever prints it.
`str(settings)` is the URL without it, which is what every message shows.
"""
from __future__ import annotations

import os
import re
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from emotion_dj.core.errors import UserError
from emotion_dj.core.files import read_setting_file, text_of

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
DISCOVERY_PREFIX = "homeassistant"  # Home Assistant's default
ID_CHARACTERS = re.compile(r"[^a-z0-9_-]+")
MAX_PREFIX = 100  # characters of the discovery prefix: a topic must stay far below MQTT's 65,535 bytes
SECRET_LIMIT = 4096  # bytes of a password file
CA_LIMIT = 1024 * 1024  # bytes of a CA bundle (the system's whole bundle is about 200 KB)
SHAPE = ("--mqtt must look like mqtt://host[:port] or mqtts://host[:port] (TLS), with an optional user name before the "
         "host (user@host) and a port from 1 to 65535")
_pipes_read: dict[str, str] = {}  # a FIFO gives its password once: the start-up check and the bridge share it


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
    ca_data: str | None = field(default=None, repr=False)  # its PEM text, read and checked once
    discovery_prefix: str = DISCOVERY_PREFIX
    device_id: str = "emotion_dj"  # the base topic is emotion_dj/<device_id>; stays the same across restarts
    keepalive: int = 30  # seconds; a broker silent for 1.5x this is dropped and dialled again

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext:
        """The TLS settings for mqtts: the named CA (already checked) or the system's."""
        context = ssl.create_default_context()
        if self.ca_data is not None:
            context = ssl.create_default_context(cadata=self.ca_data)
        return context

    @classmethod
    def from_url(cls, url: str, environ: Mapping[str, str] | None = None,
                 cancelled: Callable[[], bool] = lambda: False) -> MqttSettings:
        env = os.environ if environ is None else environ
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise MqttSettingsError(SHAPE) from None
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port == 0:
            raise MqttSettingsError(SHAPE)
        if parts.password is not None:  # refused without echoing the URL: it holds the password
            raise MqttSettingsError("--mqtt must not hold the password: put it in $EMOTION_DJ_MQTT_PASSWORD or a file named "
                                    "by $EMOTION_DJ_MQTT_PASSWORD_FILE")
        if parts.path not in ("", "/") or parts.query:
            raise MqttSettingsError("--mqtt takes no path or query: mqtt://host[:port]")
        username = unquote(parts.username) if parts.username else None
        if username is not None and not username.isprintable():  # %0A would split every line that names the broker
            raise MqttSettingsError("--mqtt: the user name holds a control character (such as %0A)")
        tls = parts.scheme == "mqtts"
        ca = env.get("EMOTION_DJ_MQTT_CA", "").strip()
        if ca and not tls:
            raise MqttSettingsError("EMOTION_DJ_MQTT_CA is for TLS: use an mqtts:// URL")
        ca_data = read_ca(ca, cancelled) if ca else None
        prefix = env.get("EMOTION_DJ_MQTT_DISCOVERY_PREFIX", DISCOVERY_PREFIX).strip().strip("/")
        if not prefix or any(c in prefix for c in "+#") or not prefix.isprintable():
            raise MqttSettingsError("EMOTION_DJ_MQTT_DISCOVERY_PREFIX must be a topic without wildcards (default homeassistant)")
        if len(prefix) > MAX_PREFIX:
            raise MqttSettingsError(f"EMOTION_DJ_MQTT_DISCOVERY_PREFIX is {len(prefix)} characters long: at most {MAX_PREFIX}")
        keepalive = env.get("EMOTION_DJ_MQTT_KEEPALIVE", "30").strip()
        if not re.fullmatch(r"[0-9]{1,4}", keepalive) or not 1 <= int(keepalive) <= 3600:
            shown = "".join(c if c.isprintable() else "?" for c in keepalive[:20])
            raise MqttSettingsError(f"EMOTION_DJ_MQTT_KEEPALIVE must be whole seconds from 1 to 3600, got '{shown}'")
        return cls(host=parts.hostname, port=port or DEFAULT_PORTS[parts.scheme], tls=tls, username=username,
                   password=read_password(env, cancelled) if username else None, ca_file=Path(ca) if ca else None,
                   ca_data=ca_data, discovery_prefix=prefix,
                   device_id=device_id(env.get("EMOTION_DJ_MQTT_ID", "") or socket.gethostname()), keepalive=int(keepalive))


def read_ca(path: str, cancelled: Callable[[], bool] = lambda: False) -> str:
    """The PEM text of $EMOTION_DJ_MQTT_CA, checked to hold at least one certificate."""
    try:
        data = read_setting_file(path, "EMOTION_DJ_MQTT_CA", CA_LIMIT, cancelled)
    except UserError as error:
        raise MqttSettingsError(str(error)) from None
    text = data.decode("ascii", "replace")
    try:
        ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError):
        raise MqttSettingsError(f"EMOTION_DJ_MQTT_CA: {path} holds no PEM certificate (the CA that signed the "
                                "broker's certificate)") from None
    return text


def read_password(env: Mapping[str, str], cancelled: Callable[[], bool] = lambda: False) -> str | None:
    """$EMOTION_DJ_MQTT_PASSWORD, else the first line of $EMOTION_DJ_MQTT_PASSWORD_FILE (a Docker or systemd secret,
    or a pipe such as <(pass show mqtt)), read as UTF-8 bytes with a size limit."""
    if env.get("EMOTION_DJ_MQTT_PASSWORD"):
        return env["EMOTION_DJ_MQTT_PASSWORD"]
    path = env.get("EMOTION_DJ_MQTT_PASSWORD_FILE", "").strip()
    if not path:
        return None
    if path in _pipes_read:
        return _pipes_read[path]
    try:
        text = text_of(read_setting_file(path, "EMOTION_DJ_MQTT_PASSWORD_FILE", SECRET_LIMIT, cancelled),
                       "EMOTION_DJ_MQTT_PASSWORD_FILE", path)
    except UserError as error:
        raise MqttSettingsError(str(error)) from None
    lines = text.splitlines()
    password = lines[0] if lines else ""
    if Path(path).is_fifo():
        _pipes_read[path] = password
    return password
