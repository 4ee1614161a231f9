"""Run Emotion DJ as if on Windows, on Linux: the POSIX-only modules cannot be imported and the names Windows lacks
are gone. `python tests/simulated_windows.py ARGS...` runs `emotion-dj ARGS...`; `... --exec CODE` runs CODE;
`--preload ray ...` first loads Ray (whose bundled psutil picks its Linux backend here, its Windows one there).

What it cannot simulate: sys.platform and os.name stay "linux" and "posix" (changing them breaks the standard
library itself), so the code's own OS branches are taken in unit tests that patch them. Third-party libraries that
choose their backend by os.name (portalocker: msvcrt on Windows, fcntl here) are loaded before the block, as on
Windows they would load their Windows backend: what is checked is that the project's own code needs no POSIX module.
"""
import importlib.abc
import os
import signal
import sys

import portalocker  # noqa: F401 - its POSIX backend, loaded before the block (see above)

if sys.argv[1:2] == ["--preload"]:
    __import__(sys.argv[2])
    del sys.argv[1:3]

BLOCKED = ("fcntl", "termios", "resource", "pwd", "grp")
ABSENT = {os: ("O_NOFOLLOW", "fchmod", "pread"), signal: ("SIGHUP", "SIGKILL")}


class NoPosix(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named '{name}' (simulated Windows)", name=name)
        return None


for module in BLOCKED:
    sys.modules.pop(module, None)
sys.meta_path.insert(0, NoPosix())
for owner, names in ABSENT.items():
    for name in names:
        if hasattr(owner, name):
            delattr(owner, name)

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if sys.argv[1:2] == ["--exec"]:
        exec(compile(sys.argv[2], "<simulated windows>", "exec"), {"__name__": "__simulated__"})
    else:
        from emotion_dj.cli import main

        sys.exit(main(sys.argv[1:]))
