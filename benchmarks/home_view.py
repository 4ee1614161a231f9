"""The picture in docs/HOME_ASSISTANT.md: what a client that listens as Home Assistant does sees of the app, drawn as
Home Assistant's device page draws it (sensors, controls, diagnostic), from a real run.

    python -m benchmarks.home_view [--out docs/home_assistant.png] [--seconds 8]

It starts Debian's Mosquitto on 127.0.0.1 (tests/broker.py), runs `run_edge.py --source demo --headless --mqtt`
with the web page on (so the demo loops), reads every retained discovery config and the newest state of each
entity, and draws them. Nothing here is made up: each value shown is one the app published.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
from jinja2 import Template  # noqa: E402 - Home Assistant's templates are Jinja2

from emotion_dj.core.paths import PROJECT_ROOT  # noqa: E402
from tests.broker import HomeAssistantClient, Mosquitto  # noqa: E402
from tests.test_music import free_port  # noqa: E402

GROUPS = (("Sensors", ("sensor",)), ("Controls", ("button", "switch", "select")), ("Diagnostic", ()))


def seen_entities(seconds: float) -> tuple[str, list[dict]]:
    """(device name, [{component, name, state, diagnostic}]) as the listening client saw them after `seconds`."""
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "broker") as broker:
        ha = HomeAssistantClient(broker)
        env = {**os.environ, "EMOTION_DJ_MQTT_ID": "living_room", "EMOTION_DJ_DATA": str(Path(tmp) / "data"),
               "EMOTION_DJ_CACHE": str(Path(tmp) / "cache")}
        env.pop("DISPLAY", None)
        app = subprocess.Popen([sys.executable, "run_edge.py", "--source", "demo", "--headless", "--serve", str(free_port()),
                                "--mqtt", f"mqtt://127.0.0.1:{broker.port}"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(seconds)
        entities, device = [], ""
        for topic in sorted(ha.topics("homeassistant/")):
            config = json.loads(ha.latest(topic))
            device = config["device"]["name"]
            payload = ha.latest(config["state_topic"]) if "state_topic" in config else None
            state = "PRESS" if config.get("payload_press") else "unknown"
            if payload is not None:
                state = Template(config["value_template"]).render(value_json=json.loads(payload)) \
                    if "value_template" in config else payload
            unit = config.get("unit_of_measurement", "")
            entities.append({"component": topic.split("/")[1], "name": config["name"], "state": f"{state} {unit}".strip() or "(none yet)",
                             "diagnostic": config.get("entity_category") == "diagnostic"})
        app.terminate()
        app.communicate(timeout=30)
        ha.close()
    return device, entities


def draw(device: str, entities: list[dict], out: Path) -> None:
    rows = []
    for title, components in GROUPS:
        chosen = [e for e in entities if (e["diagnostic"] if not components else e["component"] in components and not e["diagnostic"])]
        if chosen:
            rows.append((title, None))
            rows += [(e["name"], e) for e in chosen]
    fig, ax = plt.subplots(figsize=(6.4, 0.34 * len(rows) + 0.9), dpi=120)
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(len(rows) + 1.2, 0)
    ax.text(0.02, 0.55, f"{device}  -  MQTT discovery, as a Home Assistant client sees it", fontsize=11, weight="bold")
    for y, (label, entity) in enumerate(rows, start=1):
        if entity is None:
            ax.text(0.02, y + 0.5, label.upper(), fontsize=8, color="#03a9f4", weight="bold")
            continue
        ax.text(0.06, y + 0.5, f"{entity['component']:<7}", fontsize=8.5, color="#888888", family="monospace")
        ax.text(0.22, y + 0.5, label, fontsize=9.5)
        ax.text(0.98, y + 0.5, entity["state"][:42], fontsize=9.5, ha="right", color="#222222")
    fig.savefig(out, bbox_inches="tight", facecolor="white")
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.home_view", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "home_assistant.png")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    device, entities = seen_entities(args.seconds)
    draw(device, entities, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
