"""The output guard in-process (core/outputs.py): the cases test_guards.py drives through the app, here against
guard_outputs itself, so each rule and its one-line message is pinned down (and mutation testing can see them)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from emotion_dj.core.outputs import Output, OutputError, check_writable, guard_outputs, identity


def out(path: Path, flag: str = "--events", suffixes: tuple[str, ...] = ()) -> Output:
    return Output(flag, path, "the events", suffixes)


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"the user's video")
    return path


def refusal(inputs: dict, outputs: list[Output]) -> str:
    with pytest.raises(OutputError) as caught:
        guard_outputs(inputs, outputs)
    return str(caught.value)


def test_a_new_output_beside_the_inputs_is_allowed_and_left_absent(tmp_path, source):
    guard_outputs({"--source": source}, [out(tmp_path / "e.jsonl"), out(tmp_path / "s.json", "--summary-json")])
    assert not (tmp_path / "e.jsonl").exists() and not (tmp_path / "s.json").exists()
    assert source.read_bytes() == b"the user's video"


def test_an_existing_output_is_checked_by_opening_it_and_kept_as_it_was(tmp_path, source):
    old = tmp_path / "e.jsonl"
    old.write_text("yesterday's run\n")
    guard_outputs({"--source": source}, [out(old)])
    assert old.read_text() == "yesterday's run\n"


@pytest.mark.parametrize("alias", ["same", "dotted", "symbolic", "hard"])
def test_an_output_that_is_an_input_under_any_name_is_refused(tmp_path, source, alias):
    name = {"same": source, "dotted": tmp_path / "." / source.name, "symbolic": tmp_path / "sym.mp4",
            "hard": tmp_path / "hard.mp4"}[alias]
    if alias == "symbolic":
        os.symlink(source, name)
    if alias == "hard":
        os.link(source, name)
    line = refusal({"--source": source}, [out(name)])
    assert line == f"--events {name} is the same file as --source (an input): refusing to overwrite it"
    assert source.read_bytes() == b"the user's video"


def test_an_input_reached_through_a_symlink_is_still_that_input(tmp_path, source):
    link = tmp_path / "link.mp4"
    os.symlink(source, link)
    assert "(an input)" in refusal({"--source": link}, [out(source)])


def test_two_outputs_on_one_new_file_are_refused_naming_the_second(tmp_path, source):
    (tmp_path / "sub").mkdir()
    line = refusal({"--source": source}, [out(tmp_path / "x.json"), out(tmp_path / "sub" / ".." / "x.json", "--summary-json")])
    assert line.startswith("--summary-json ") and "same file as --events (another output)" in line


def test_two_outputs_on_one_existing_file_are_refused(tmp_path, source):
    existing = tmp_path / "x.json"
    existing.write_text("{}")
    link = tmp_path / "y.json"
    os.symlink(existing, link)
    assert "same file as --events (another output)" in refusal({}, [out(existing), out(link, "--json")])
    assert existing.read_text() == "{}"


@pytest.mark.parametrize("empty", [None, ""])
def test_missing_and_empty_inputs_are_ignored(tmp_path, empty):
    guard_outputs({"--model": empty}, [out(tmp_path / "e.jsonl")])


def test_inputs_that_are_not_files_are_ignored(tmp_path):
    guard_outputs({"--source": "0", "--camera": "rtsp://cam.local/stream", "--long": "a" * 300}, [out(tmp_path / "e.jsonl")])


def test_an_input_that_does_not_exist_yet_does_not_block_an_output_of_that_name(tmp_path):
    # only files that exist are inputs to protect; a camera index such as "0" names no file
    guard_outputs({"--source": tmp_path / "e.jsonl"}, [out(tmp_path / "e.jsonl")])


@pytest.mark.parametrize("name, allowed", [("run.JSONL", True), ("run.jsonl", True), ("run.txt", False), ("run", False)])
def test_the_file_type_is_checked_case_blind(tmp_path, name, allowed):
    output = out(tmp_path / name, "--events", (".jsonl", ".json"))
    if allowed:
        guard_outputs({}, [output])
    else:
        assert refusal({}, [output]) == f"--events must end in .jsonl, .json, got '{name}'"


def test_any_file_type_when_none_is_named(tmp_path):
    guard_outputs({}, [out(tmp_path / "whatever.xyz")])


def test_the_file_type_is_checked_before_the_folder(tmp_path):
    assert "must end in" in refusal({}, [out(tmp_path / "missing" / "e.txt", suffixes=(".jsonl",))])


def test_a_missing_folder_is_named(tmp_path):
    path = tmp_path / "missing" / "e.jsonl"
    assert refusal({}, [out(path)]) == f"cannot write the events to {path}: folder {path.parent} does not exist"


def test_a_folder_is_not_a_file(tmp_path):
    (tmp_path / "e.jsonl").mkdir()
    assert refusal({}, [out(tmp_path / "e.jsonl")]) == f"cannot write the events to {tmp_path / 'e.jsonl'}: it is a folder"


def test_a_file_that_cannot_be_opened_for_writing_gives_the_systems_reason():
    # /proc refuses new files even to root, where permission bits would not
    with pytest.raises(OutputError) as caught:
        check_writable(Path("/proc/e.jsonl"), "the events")
    assert str(caught.value).startswith("cannot write the events to /proc/e.jsonl: ") and "Errno" not in str(caught.value)


def test_a_name_too_long_and_a_link_loop_are_named(tmp_path):
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    assert refusal({}, [out(tmp_path / ("a" * 300))]) == f"cannot use {tmp_path / ('a' * 300)}: the file name is too long"
    assert refusal({}, [out(loop)]) == f"cannot use {loop}: a symbolic link loop"


def test_the_output_after_a_refused_one_is_never_touched(tmp_path, source):
    later = tmp_path / "later.json"
    later.write_text("keep")
    refusal({"--source": source}, [out(source), out(later, "--json")])
    assert later.read_text() == "keep"


def test_identity_is_the_inode_for_a_file_and_the_resolved_path_for_a_new_name(tmp_path, source):
    info = os.stat(source)
    assert identity(source) == ("inode", (info.st_dev, info.st_ino))
    assert identity(tmp_path / "." / "new.json") == ("path", (tmp_path / "new.json").resolve())


@pytest.mark.parametrize("tilde_side", ["input", "output"])
def test_a_home_relative_name_is_the_same_file_as_its_full_name(tmp_path, source, monkeypatch, tilde_side):
    monkeypatch.setenv("HOME", str(tmp_path))
    short = Path("~") / source.name  # as typed after an "=", where the shell does not expand it
    inputs = {"--source": short if tilde_side == "input" else source}
    output = out(source if tilde_side == "input" else short)
    assert "is the same file as --source (an input)" in refusal(inputs, [output])
    assert source.read_bytes() == b"the user's video"


def test_an_absent_or_unusable_input_name_does_not_hide_the_inputs_after_it(tmp_path, source):
    inputs = {"--events": None, "--report": "", "--model": tmp_path / ("m" * 300), "--source": source}
    assert "is the same file as --source (an input)" in refusal(inputs, [out(source)])


def test_an_empty_input_name_is_no_file_so_a_folder_output_is_refused_as_a_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert refusal({"--source": ""}, [out(Path("."))]) == "cannot write the events to .: it is a folder"


@pytest.mark.parametrize("raised, reason", [(RuntimeError("Symlink loop from 'x'"), "a symbolic link loop"),
                                            (OSError(36, "File name too long"), "the file name is too long")])
def test_a_name_that_cannot_be_resolved_is_one_line(tmp_path, monkeypatch, raised, reason):
    def resolve(self, strict=False):
        raise raised

    monkeypatch.setattr(Path, "resolve", resolve)
    assert refusal({}, [out(tmp_path / "new.jsonl")]) == f"cannot use {tmp_path / 'new.jsonl'}: {reason}"
