"""The container image (Dockerfile), built and run for real with podman: the demo answers through the published port,
`podman stop` ends it cleanly within 5 s, it runs as a user, its health check asks the app, it holds no PyTorch and
stays under 1 GB, a missing camera is one line and a non-zero exit, and the Spotify login works with the browser
elsewhere; compose.yaml runs it beside Mosquitto. The base image is made with debootstrap once per machine
(tests/container.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import requests

from emotion_dj.runtime.web.token import stream_token
from tests.container import ROOT, RUN_FLAGS, build_image, ensure_base, image_bytes, missing_tools, podman, remove
from tests.fake_spotify import FakeSpotify
from tests.test_faults import wait_until

if missing_tools():
    pytest.skip(f"the container tests need {', '.join(missing_tools())} (.ci/run installs them from Debian)",
                allow_module_level=True)

IMAGE = "localhost/emotion-dj:test"
TOKEN = "container-test-token-0123456789"
MQTT_PASSWORD = "compose-test-password-4711"
GIGABYTE = 1_000_000_000


@pytest.fixture(scope="module")
def image(request) -> str:
    started = time.monotonic()
    ensure_base()
    build_image(IMAGE)
    request.config.stash.setdefault("container_build_s", time.monotonic() - started)
    return IMAGE


@pytest.fixture
def names(request):
    """A container name and its two volumes, removed after the test whatever happened."""
    name = f"emotion-dj-test-{os.getpid()}-{request.node.name[5:30].replace('_', '-')}"
    yield name, f"{name}-data", f"{name}-config"
    remove(name, f"{name}-data", f"{name}-config")


def in_volume(image: str, volume: str, *command: str) -> str:
    """A command run on a volume from inside the image: the files as the app sees them, whether podman runs as root
    or rootless (where the host sees the container's user as another id)."""
    return podman("run", "--rm", *RUN_FLAGS, "-v", f"{volume}:/volume", "--entrypoint", command[0], image,
                  *command[1:]).stdout


def first_jpeg(response: requests.Response) -> np.ndarray:
    buffer = b""
    for chunk in response.iter_content(16384):
        buffer += chunk
        start, end = buffer.find(b"\xff\xd8"), buffer.find(b"\xff\xd9")
        if start >= 0 and end > start:
            return cv2.imdecode(np.frombuffer(buffer[start:end + 2], np.uint8), cv2.IMREAD_COLOR)
    raise AssertionError("the stream ended before a whole JPEG")


def test_the_demo_answers_on_the_published_port_runs_as_a_user_and_stops_cleanly(image, names, capsys):
    name, data, config = names
    started = time.monotonic()
    podman("run", "-d", *RUN_FLAGS, "--name", name, "-p", "127.0.0.1::8080", "-v", f"{data}:/data",
           "-v", f"{config}:/config", "-e", f"EMOTION_DJ_SERVE_TOKEN={TOKEN}",
           image, "--source", "demo", "--events", "/data/events.jsonl")
    port = podman("port", name, "8080").stdout.strip().rsplit(":", 1)[1]
    base = f"http://127.0.0.1:{port}"
    page = requests.Session()
    page.cookies.set("emotion_dj_token", TOKEN)

    def state() -> dict | None:
        assert podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip() == "true", \
            podman("logs", name, check=False).stderr[-2000:]
        try:
            answer = page.get(f"{base}/api/state", timeout=5)
        except requests.ConnectionError:
            return None
        return answer.json() if answer.status_code == 200 and answer.json().get("stats", {}).get("frames") else None

    wait_until(lambda: state() is not None, timeout=120, what="the page's live state through the published port")
    start_s = time.monotonic() - started
    assert requests.get(f"{base}/api/state", timeout=5).status_code == 403  # the token is needed
    assert len(state()["faces"]) == 2  # the demo's two faces, seen by the model inside the image
    with requests.get(f"{base}/video.mjpg", params={"stream": stream_token(TOKEN)}, stream=True, timeout=10) as video:
        assert video.status_code == 200 and first_jpeg(video).shape == (480, 640, 3)

    status = podman("exec", name, "grep", "^Uid:", "/proc/1/status").stdout.split()
    assert status[1] == "10001" and status[2] == "10001", status  # PID 1 (tini) and so the app: not root
    app_uid = podman("exec", name, "sh", "-c", "grep ^Uid: /proc/[0-9]*/status | sort -u").stdout
    assert "\t0\t" not in app_uid, app_uid
    health = podman("healthcheck", "run", name, check=False)
    assert health.returncode == 0, (health.stdout, health.stderr)
    inside = podman("exec", name, "emotion-dj", "health").stdout
    assert inside.startswith("healthy: "), inside

    stop_started = time.monotonic()
    podman("stop", name, timeout=30)  # the default grace, 10 s
    stop_s = time.monotonic() - stop_started
    assert stop_s < 5, f"podman stop took {stop_s:.1f} s"
    assert podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    logs = podman("logs", name)
    output = logs.stdout + logs.stderr
    assert "Emotion DJ: " in output and "Traceback" not in output, output[-2000:]
    assert TOKEN not in output and stream_token(TOKEN) not in output  # the tokens never reach the log
    events = in_volume(image, data, "cat", "/volume/events.jsonl")
    assert events.endswith("\n") and len(events.splitlines()) > 10
    assert all(json.loads(line) for line in events.splitlines())  # complete: every line parses
    with capsys.disabled():
        print(f"\ncontainer image {IMAGE}: {image_bytes(image) / 1e6:.0f} MB; demo page up {start_s:.1f} s after "
              f"podman run; podman stop took {stop_s:.1f} s")


def test_the_image_holds_no_torch_and_no_compiler_and_stays_under_a_gigabyte(image):
    found = podman("run", "--rm", *RUN_FLAGS, "--entrypoint", "python3", image, "-c",
                   "import importlib.util as u, shutil; print(u.find_spec('torch'), shutil.which('gcc'), shutil.which('cc'))")
    assert found.stdout.split() == ["None", "None", "None"], found.stdout
    assert image_bytes(image) < GIGABYTE
    inspected = json.loads(podman("image", "inspect", image).stdout)[0]
    assert inspected["Healthcheck"]["Test"] == ["CMD", "emotion-dj", "health"]  # kept: Docker's format
    config = inspected["Config"]
    assert config["User"] == "emotion-dj"
    assert config["StopSignal"] == "SIGTERM" and "8080/tcp" in config["ExposedPorts"]


def test_a_container_without_a_camera_says_so_in_one_line_and_exits_after_a_bounded_retry(image, names):
    name, data, config = names
    started = time.monotonic()
    podman("run", "-d", *RUN_FLAGS, "--name", name, "-v", f"{data}:/data", "-v", f"{config}:/config", image)
    exit_code = podman("wait", name, timeout=120).stdout.strip()  # 2: a user error, as on a laptop
    took = time.monotonic() - started
    logs = podman("logs", name)
    lines = (logs.stdout + logs.stderr).splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert exit_code == "2" and "Traceback" not in logs.stderr, (exit_code, lines)
    assert len(errors) == 1 and "camera 0 could not be opened" in errors[0] and "5 tries" in errors[0], lines
    assert "run it with --device /dev/video0" in errors[0]  # what to do about it
    assert 15 <= took < 90  # 1 + 2 + 4 + 8 s of back-off, then the restart policy's turn


def test_the_spotify_login_with_the_browser_on_another_machine_lands_in_the_config_volume(image, names):
    name, _, config = names
    fake = FakeSpotify().start()
    try:
        login = subprocess.Popen(
            ["podman", "run", "--rm", "-i", *RUN_FLAGS, "--name", name, "--network", "host", "-v", f"{config}:/config",
             "-e", "SPOTIPY_CLIENT_ID=test-client", "-e", f"SPOTIFY_ACCOUNTS_URL={fake.url}",
             "-e", f"SPOTIFY_API_URL={fake.url}/v1/", image, "login"],  # the image's default: --paste
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = [login.stdout.readline() for _ in range(3)]
        link = lines[1].strip()
        assert lines[0].startswith("1. Open this link") and link.startswith(f"{fake.url}/authorize?"), lines
        # the browser on another machine: it logs in and is sent to the redirect URI, which does not load there
        sent_to = requests.get(link, allow_redirects=False, timeout=10).headers["Location"]
        assert sent_to.startswith("http://127.0.0.1:8888/callback?code=")
        out, err = login.communicate(sent_to + "\n", timeout=60)
    finally:
        fake.stop()
    assert login.returncode == 0 and "Logged in to Spotify as" in out, (out, err)
    token = json.loads(in_volume(image, config, "cat", "/volume/spotify-token.json"))
    assert token["access_token"] in fake.tokens
    assert in_volume(image, config, "stat", "-c", "%u %a", "/volume/spotify-token.json").split() == ["10001", "600"]


def test_compose_runs_the_app_beside_mosquitto_with_the_secrets_from_env(image, tmp_path):
    """compose.yaml itself, run by podman-compose with tests/compose.test.yaml over it (the demo for the camera, a
    Debian-built Mosquitto for eclipse-mosquitto): the broker's password step, the app's login to it by service name,
    the page's token, the restart policy."""
    podman("build", "--pull=never", *RUN_FLAGS, "-f", str(ROOT / "tests/images/mosquitto.Containerfile"),
           "-t", "localhost/emotion-dj-test-mosquitto", str(ROOT / "tests/images"), timeout=300)
    env = tmp_path / ".env"
    env.write_text(f"MQTT_PASSWORD={MQTT_PASSWORD}\nEMOTION_DJ_SERVE_TOKEN={TOKEN}\nSPOTIPY_CLIENT_ID=\n")
    project = f"emotiondjtest{os.getpid()}"
    compose = [sys.executable, "-m", "podman_compose", "-p", project, "--env-file", str(env), "-f", str(ROOT / "compose.yaml"),
               "-f", str(ROOT / "tests/compose.test.yaml"), f"--podman-run-args={' '.join(RUN_FLAGS)}"]
    app, broker = f"{project}_emotion-dj_1", f"{project}_mosquitto_1"
    try:
        subprocess.run([*compose, "up", "-d"], check=True, capture_output=True, timeout=180)
        broker_port = podman("port", broker, "1883").stdout.strip().rsplit(":", 1)[1]
        page_port = podman("port", app, "8080").stdout.strip().rsplit(":", 1)[1]

        def listen(*login: str) -> subprocess.CompletedProcess:
            return subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", broker_port, *login, "-t",
                                   "emotion_dj/+/availability", "-C", "1", "-W", "3", "-v"], capture_output=True, text=True)

        wait_until(lambda: listen("-u", "emotion-dj", "-P", MQTT_PASSWORD).stdout.strip() ==
                   "emotion_dj/emotion-dj/availability online", timeout=90, what="the app online on compose's broker")
        assert "not authorised" in listen().stderr  # the broker takes logins only
        state = requests.get(f"http://127.0.0.1:{page_port}/api/state", cookies={"emotion_dj_token": TOKEN}, timeout=10)
        assert state.status_code == 200
        assert podman("inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", app).stdout.strip() == "unless-stopped"
        logs = podman("logs", app)
        assert MQTT_PASSWORD not in logs.stdout + logs.stderr and TOKEN not in logs.stdout + logs.stderr
    finally:
        subprocess.run([*compose, "down", "-v"], capture_output=True, timeout=180)
    assert podman("ps", "-a", "-q", "--filter", f"name={project}").stdout.strip() == ""
