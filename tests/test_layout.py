"""The package's layering (docs/ARCHITECTURE.md), read from the imports themselves, top-level and deferred."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "emotion_dj"


def project_imports(folder: Path) -> dict[str, set[str]]:
    """file -> every emotion_dj module it imports, wherever in the file the import is."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(PACKAGE))] = {n for n in names if n.startswith("emotion_dj")}
    return found


@pytest.mark.parametrize("folder, may_use", [
    ("music", ("emotion_dj.core", "emotion_dj.music")),
    ("core", ("emotion_dj.core",)),
    ("home", ("emotion_dj.core", "emotion_dj.music", "emotion_dj.home")),
])
def test_a_package_imports_only_what_it_may(folder, may_use):
    # the package itself ("from emotion_dj import __version__") holds only the version and the privacy switch
    bad = {f: sorted(m for m in mods if not m.startswith(may_use) and m != "emotion_dj")
           for f, mods in project_imports(PACKAGE / folder).items()}
    assert {f: m for f, m in bad.items() if m} == {}


def test_the_runtime_never_imports_the_fleet():
    assert {f: m for f, m in project_imports(PACKAGE / "runtime").items() if any(x.startswith("emotion_dj.fleet") for x in m)} == {}


def test_the_fer2013_and_ferplus_loaders_do_not_import_each_other():
    imports = project_imports(PACKAGE / "train")
    assert "emotion_dj.train.data" not in imports["train/ferplus.py"]
