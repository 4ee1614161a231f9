"""Watch a command's network contacts with strace: every connect() and every addressed send, in every process.

`strace -f --seccomp-bpf` stops only on the traced calls, so a Ray fleet under it starts nearly as fast as
without. A contact is off the machine unless its address is loopback; a DNS query is anything sent to port 53,
on any address (a local resolver on 127.0.0.53 forwards it); a metadata probe is any link-local address
(169.254.169.254 and the like) or AWS's fd00:ec2::254.
"""
from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import processes

TRACED_CALLS = "connect,sendto,sendmsg,sendmmsg"
# strace prints a payload string with its quotes escaped, so these can only match a real socket address
INET4 = re.compile(r'sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([0-9.]+)"\)')
INET6 = re.compile(r'sa_family=AF_INET6, sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([0-9a-fA-F:.]+)"')
CALL = re.compile(r"^(\d+)\s+(connect|sendto|sendmsg|sendmmsg)\(")
AWS_METADATA_V6 = ipaddress.ip_address("fd00:ec2::254")


@dataclass(frozen=True)
class Contact:
    pid: int
    call: str
    host: str
    port: int
    line: str

    @property
    def address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        address = ipaddress.ip_address(self.host)
        mapped = getattr(address, "ipv4_mapped", None)
        return mapped or address

    @property
    def on_machine(self) -> bool:
        return self.address.is_loopback or self.address.is_unspecified

    @property
    def kind(self) -> str | None:
        """None for a contact with this machine; else why it is not allowed."""
        if self.port == 53:
            return "DNS query"
        if self.address.is_link_local or self.address == AWS_METADATA_V6:
            return "metadata probe"
        return None if self.on_machine else "off-machine connection"


def parse(trace: str) -> list[Contact]:
    contacts = []
    for line in trace.splitlines():
        call = CALL.match(line)
        if not call:
            continue
        for pattern in (INET4, INET6):
            for port, host in pattern.findall(line):
                contacts.append(Contact(int(call.group(1)), call.group(2), host, int(port), line[:240]))
    return contacts


def forbidden(contacts: list[Contact], allowed: set[tuple[str, int]] = frozenset()) -> list[str]:
    """One line per contact that is a DNS query, a metadata probe or off the machine, unless the user configured it."""
    return [f"{c.kind}: {c.host}:{c.port} ({c.call} in pid {c.pid})" for c in contacts
            if c.kind and (c.host, c.port) not in allowed]


def strace_or_skip() -> str:
    path = shutil.which("strace")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("strace is missing: .ci/run installs it (Debian's strace) for the egress tests")
        pytest.skip("strace is not installed (apt-get install strace)")
    return path


def fresh_home_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment on a new account: HOME and PATH, none of the suite's own folders or settings."""
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    env.update({k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")})  # this machine's numpy needs them
    env.update(extra)
    return env


class Traced:
    """A command under strace, started in the background; `finish()` waits for it and returns the contacts."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, cwd: Path | None = None):
        self.log = log
        self.process = processes.start([strace_or_skip(), "-f", "--seccomp-bpf", "-qq", "-e", f"trace={TRACED_CALLS}",
                                        "-o", str(log), *argv], env=env, cwd=cwd, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)

    def signal_command(self, sig: int = signal.SIGTERM) -> None:
        """Signal the traced command itself (strace's child), as a user's Ctrl-C or systemctl stop would."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        for child in children:
            os.kill(int(child), sig)

    def finish(self, timeout: float) -> tuple[subprocess.CompletedProcess, list[Contact]]:
        out, err = self.process.communicate(timeout=timeout)
        done = subprocess.CompletedProcess(self.process.args, self.process.returncode, out, err)
        return done, parse(self.log.read_text())


def run_traced(argv: list[str], env: dict[str, str], log: Path, timeout: float, cwd: Path | None = None):
    return Traced(argv, env, log, cwd).finish(timeout)


def app(*args: str) -> list[str]:
    return [sys.executable, "-m", "emotion_dj", *args]


def tree(home: Path) -> set[str]:
    """Every path under HOME, relative to it."""
    return {str(p.relative_to(home)) for p in home.rglob("*")}
