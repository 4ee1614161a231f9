"""Shared fixtures: tiny FER2013 copies in both layouts, a tiny checkpoint, the shipped model files."""
from __future__ import annotations

import csv
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The suite sees only the environment its tests set: a developer's own settings (a camera, a model, a Spotify
# login, frame limits) never reach the code under test or the processes it starts, nor do their config and cache
# folders. EMOTION_DJ_SCREENSHOT stays: it asks the window test for the README's picture.
for _name in list(os.environ):
    if (_name.startswith(("EMOTION_DJ_", "SPOTIFY_", "SPOTIPY_")) and not _name.startswith("EMOTION_DJ_SCREENSHOT")) \
            or _name in ("YUNET_MODEL", "FERPLUS_LABELS", "RAY_ADDRESS"):
        del os.environ[_name]
_SANDBOX = Path(tempfile.mkdtemp(prefix="emotion-dj-tests-"))
os.environ["EMOTION_DJ_CONFIG"] = str(_SANDBOX / "no-config.json")
os.environ["EMOTION_DJ_CACHE"] = str(_SANDBOX / "cache")
os.environ["EMOTION_DJ_DATA"] = str(_SANDBOX / "data")
os.environ["XDG_CONFIG_HOME"] = str(_SANDBOX / "config")
WEIGHTS = ROOT / "emotion_dj" / "weights"

from emotion_dj.train.data import CLASSES, CSV_EMOTIONS  # noqa: E402
from tests.fake_spotify import FakeSpotify  # noqa: E402


@pytest.fixture
def fake():
    """The Spotify stand-in on 127.0.0.1 (tests/fake_spotify.py), started for one test."""
    server = FakeSpotify().start()
    yield server
    server.stop()


def synthetic_face(label: int, rng: np.random.Generator) -> np.ndarray:
    """A 48x48 image whose texture depends on its class, so a tiny net can learn something from it."""
    base = np.full((48, 48), 40 + 25 * label, dtype=np.float32)
    base[8 + label * 4: 14 + label * 4, 8:40] = 230 - 20 * label
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def fer2013_from_env() -> Path | None:
    """$FER2013_DIR in either form, the image folder or the original fer2013.csv (the loaders read both);
    None where it is unset. Set but missing is a failure, not a skip."""
    value = os.environ.get("FER2013_DIR")
    if not value:
        return None
    path = Path(value)
    assert path.exists(), f"FER2013_DIR={value} does not exist"
    return path


@pytest.fixture(scope="session")
def fer_dir() -> Path:
    path = fer2013_from_env()
    if path is None:
        pytest.skip("FER2013_DIR is not set (CI sets it to ../shared/data/fer2013)")
    return path


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    """Folder layout: 6 train + 2 PublicTest + 2 PrivateTest per class, one corrupt JPEG, one blank image."""
    root = tmp_path_factory.mktemp("fer_folder")
    rng = np.random.default_rng(0)
    for label, name in enumerate(CLASSES):
        for sub, prefix, count in (("train", "Training", 6), ("test", "PublicTest", 2), ("test", "PrivateTest", 2)):
            folder = root / sub / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                cv2.imwrite(str(folder / f"{prefix}_{label}{i:03d}.jpg"), synthetic_face(label, rng))
    (root / "train" / "happy" / "Training_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    cv2.imwrite(str(root / "train" / "sad" / "Training_blank.jpg"), np.full((48, 48), 128, np.uint8))
    return root


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory) -> Path:
    """The original fer2013.csv form, with one malformed row and one blank image."""
    path = tmp_path_factory.mktemp("fer_csv") / "fer2013.csv"
    rng = np.random.default_rng(1)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["emotion", "pixels", "Usage"])
        for usage, count in (("Training", 6), ("PublicTest", 2), ("PrivateTest", 2)):
            for csv_label, name in enumerate(CSV_EMOTIONS):
                for _ in range(count):
                    face = synthetic_face(CLASSES.index(name), rng)
                    writer.writerow([csv_label, " ".join(map(str, face.ravel())), usage])
        writer.writerow([3, "1 2 3", "Training"])  # too few pixels
        writer.writerow([4, " ".join(["7"] * 2304), "Training"])  # blank
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_csv) -> Path:
    """A real (tiny) training run: 2 epochs of a narrow net on the tiny CSV."""
    from emotion_dj.train.train import main

    out = tmp_path_factory.mktemp("run")
    assert main(["--data", str(tiny_csv), "--epochs", "2", "--batch-size", "16", "--widths", "8,8,16,16,16",
                 "--out", str(out), "--amp", "off"]) == 0
    return out / "best.pt"


@pytest.fixture(scope="session")
def shipped_checkpoint() -> Path:
    path = WEIGHTS / "emotion_net.pt"
    assert path.is_file(), "the trained weights ship in weights/emotion_net.pt"
    return path


@pytest.fixture(autouse=True)
def own_music_store(tmp_path_factory, monkeypatch):
    """Each test remembers only its own plays and taste: no test's history keeps tracks out of another's."""
    monkeypatch.setenv("EMOTION_DJ_DATA", str(tmp_path_factory.mktemp("data")))


@pytest.fixture(autouse=True)
def no_leftover_apps():
    """Apps a test started (tests/test_window.py, tests/test_faults.py) never outlive it, pass or fail."""
    from tests import processes

    yield
    processes.stop_all()


# -- Linux-only tests -------------------------------------------------------------------------------------------------
# Modules that need what only Linux has here: strace (privacy), Xvfb (the window), unshare and root (a full or
# read-only store), fcntl and SIGKILL (guards, faults), Debian's mosquitto and chromium (Home Assistant, the page),
# /proc and Ray's cluster with ss (the fleet). On Windows and macOS (.github/workflows/ci.yml) they are not
# collected, and the header says so; tests/test_windows.py covers those OSes' own paths.
LINUX_ONLY = {"test_privacy.py": "strace", "test_window.py": "Xvfb", "test_store_disk.py": "unshare and root",
              "test_guards.py": "fcntl", "test_faults.py": "SIGKILL and POSIX signals", "test_home.py": "mosquitto",
              "test_web.py": "Debian's chromium and POSIX signals", "test_fleet.py": "Ray, ss and SIGKILL",
              "test_fleet_dj.py": "Ray", "test_dj_app.py": "POSIX signals", "test_windows.py": "the simulated Windows"}


def pytest_ignore_collect(collection_path, config):
    return sys.platform != "linux" and collection_path.name in LINUX_ONLY


def pytest_report_header(config):
    if sys.platform != "linux":
        return [f"not collected on {sys.platform} (Linux-only): " + ", ".join(f"{k} ({v})" for k, v in LINUX_ONLY.items())]
    return []


# -- no silent skips in CI ----------------------------------------------------------------------------------------
# With CI=true a test that would skip for a missing tool (Chromium, Xvfb, Mosquitto, ss, the dataset, a Python
# extra) fails instead: .ci/run installs all of them, so a skip there means an install that failed quietly. Only what
# CI cannot have may skip: the GPU and TensorRT.
SKIPS_ALLOWED_IN_CI = ("TensorRT", "GPU", "CUDA")


def _skip_is_a_failure_in_ci(report) -> bool:
    return os.environ.get("CI", "").lower() == "true" and report.skipped \
        and not any(word in str(report.longrepr) for word in SKIPS_ALLOWED_IN_CI)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if _skip_is_a_failure_in_ci(report):
        report.outcome, report.longrepr = "failed", f"skipped in CI, where it must run: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if _skip_is_a_failure_in_ci(report):  # a module-level importorskip
        report.outcome, report.longrepr = "failed", f"skipped in CI, where it must run: {report.longrepr}"
