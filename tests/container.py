"""Podman for the container tests: the Debian base made with debootstrap (no image registry answers here) and kept
in podman's own image store between runs, the image built from the repository's Dockerfile, and containers run with
the two settings this kernel needs (runc: crun fails on its mixed cgroups; explicit ulimits: a container may not
raise its limits to podman's defaults)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = "docker.io/library/debian:bookworm-slim"  # what the Dockerfile's FROM names, resolved locally (--pull=never)
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
RUN_FLAGS = ("--runtime", "runc", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768")
# A TLS-inspecting proxy's CA, where the machine has one (this one does): handed to the build as a secret, never
# baked into the image. Debian's bundle elsewhere; harmless where it holds only the public CAs.
HOST_CA = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
# What a minbase system keeps that an image does not need: the downloaded packages, the package lists, the docs.
TRIM = ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "usr/share/doc/*", "usr/share/man/*",
        "usr/share/locale/*", "usr/share/info/*")


def missing_tools() -> list[str]:
    return [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]


def podman(*args: str, timeout: float = 120, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])}... exited {result.returncode}: {result.stderr[-2000:]}")
    return result


def ensure_base() -> str:
    """The Debian bookworm base, made once per machine: debootstrap --variant=minbase from the Debian mirror, trimmed,
    and imported under the name the Dockerfile uses. Later runs find it in podman's store (about 30 s saved). Where a
    registry answers (GitHub's runners), EMOTION_DJ_TEST_PULL_BASE=1 pulls Debian's own image instead; here none
    does, and nothing is asked of one unless told."""
    if podman("image", "exists", BASE, check=False).returncode == 0:
        return BASE
    if os.environ.get("EMOTION_DJ_TEST_PULL_BASE") == "1":
        podman("pull", BASE, timeout=600)
        return BASE
    with tempfile.TemporaryDirectory(prefix="emotion-dj-base-") as folder:
        rootfs = Path(folder) / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), MIRROR], check=True,
                       capture_output=True, timeout=900)
        subprocess.run(["sh", "-c", "cd " + str(rootfs) + " && rm -rf " + " ".join(TRIM)], check=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        podman("import", "--change", 'CMD ["bash"]', "-", BASE, stdin=tar.stdout, timeout=300)
        assert tar.wait() == 0
    return BASE


def build_image(tag: str) -> None:
    """`podman build` of the repository root, as a user's `docker build .`: Docker's format (podman drops HEALTHCHECK
    in the OCI one), the local base only, the host's CA as a build secret. Unchanged layers come from podman's cache."""
    secret = ("--secret", f"id=ca,src={HOST_CA}") if HOST_CA.is_file() else ()
    before = podman("image", "inspect", "--format", "{{.Id}}", tag, check=False).stdout.strip()
    podman("build", "--format", "docker", "--pull=never", *RUN_FLAGS, *secret, "-t", tag, str(ROOT), timeout=900)
    if before and before != podman("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip():
        podman("rmi", before, check=False)  # the last run's image: a machine that runs CI often keeps only one


def image_bytes(tag: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())


def remove(*names: str) -> None:
    """Containers and volumes of a test, gone whatever happened to it."""
    for name in names:
        podman("rm", "--force", "--time", "0", name, check=False)
        podman("volume", "rm", "--force", name, check=False)
