"""Nothing destroyed, nothing trusted blindly: the output guard, bad numbers from a model or an events file,
closed pipes, shared and secret files, memory limits and model files that only look right. Each case is what a
user could do; each ends in one line or a clean result, never a traceback or a lost file."""
from __future__ import annotations

import fcntl
import json
import os
import signal
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from emotion_dj.core.redact import redact
from emotion_dj.music.mood import MoodSnapshot, mood_by_name
from emotion_dj.music.service import Outcome
from emotion_dj.music.worker import MusicWorker
from emotion_dj.runtime.report import MAX_FACES, read_events, summary
from tests import processes
from tests.conftest import ROOT, WEIGHTS
from tests.streams import MjpegServer
from tests.test_faults import app_env, frame_lines, one_line_error, run_app, start_app, wait_until


@pytest.fixture
def photo(tmp_path) -> Path:
    import cv2

    from tests.media import demo_portrait

    path = tmp_path / "face.png"
    cv2.imwrite(str(path), demo_portrait())
    return path


def demo_events(tmp_path: Path, frames: int = 5) -> Path:
    events = tmp_path / "e.jsonl"
    result = run_app(tmp_path, "--headless", "--engine", "onnx", "--source", "demo", "--max-frames", str(frames),
                     "--events", str(events))
    assert result.returncode == 0, result.stderr
    return events


# -- the output guard ------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--report", "--summary-json"])
def test_an_output_over_the_source_is_refused_before_anything_runs(tmp_path, photo, flag):
    before = photo.read_bytes()
    extra = ["--events", str(tmp_path / "e.jsonl")] if flag == "--report" else []
    line = one_line_error(run_app(tmp_path, "--headless", "--source", str(photo), *extra, flag, str(photo)))
    assert "refusing to overwrite" in line and "--source" in line and photo.read_bytes() == before
    assert not (tmp_path / "e.jsonl").exists()  # refused before any output was opened


def test_summary_json_over_the_model_is_refused(tmp_path, photo):
    model = tmp_path / "model.onnx"
    model.write_bytes((WEIGHTS / "emotion_net.int8.onnx").read_bytes())
    line = one_line_error(run_app(tmp_path, "--headless", "--source", str(photo), "--model", str(model),
                                  "--summary-json", str(model)))
    assert "--model" in line and model.read_bytes() == (WEIGHTS / "emotion_net.int8.onnx").read_bytes()


def test_two_outputs_naming_one_file_are_refused(tmp_path, photo):
    line = one_line_error(run_app(tmp_path, "--headless", "--source", str(photo), "--events", str(tmp_path / "x"),
                                  "--summary-json", str(tmp_path / "." / "x")))
    assert "--summary-json" in line and "another output" in line


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_a_link_to_the_source_counts_as_the_source(tmp_path, photo, link):
    alias = tmp_path / "other-name.jsonl"
    (os.link if link == "hard" else os.symlink)(photo, alias)
    before = photo.read_bytes()
    line = one_line_error(run_app(tmp_path, "--headless", "--source", str(photo), "--events", str(alias)))
    assert "refusing to overwrite" in line and photo.read_bytes() == before


def test_the_report_command_never_overwrites_its_events(tmp_path):
    events = demo_events(tmp_path)
    before = events.read_bytes()
    line = one_line_error(run_app(tmp_path, "report", str(events), "--json", str(events)))
    assert "refusing to overwrite" in line and events.read_bytes() == before
    line = one_line_error(run_app(tmp_path, "report", str(events), "--out", str(tmp_path / "r.png"),
                                  "--json", str(tmp_path / "r.png")))
    assert "another output" in line


@pytest.mark.parametrize("args, message", [
    (["--record", "out.xyz"], "--record must end in"),
    (["--events", "e.jsonl", "--report", "x.jpg"], "--report must end in"),
    (["--events", "a" * 300 + ".jsonl"], "file name is too long"),
    (["--events", "loop"], "symbolic link loop"),
    (["--summary-json", "missing-folder/s.json"], "does not exist"),
])
def test_a_bad_output_name_is_refused_at_start(tmp_path, args, message):
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    args = [str(tmp_path / a) if i % 2 else a for i, a in enumerate(args)]
    started = time.monotonic()
    line = one_line_error(run_app(tmp_path, "--headless", "--source", "demo", "--max-frames", "300", *args))
    assert message in line and time.monotonic() - started < 30


def test_report_command_output_errors_are_one_line(tmp_path):
    events = demo_events(tmp_path)
    assert "--out must end in" in one_line_error(run_app(tmp_path, "report", str(events), "--out", str(tmp_path / "r.jpg")))
    assert "cannot write" in one_line_error(run_app(tmp_path, "report", str(events), "--out", "/proc/r.png"))
    assert "cannot write" in one_line_error(run_app(tmp_path, "report", str(events), "--json", "/proc/r.json",
                                                    "--out", str(tmp_path / "r.png")))


# -- numbers nobody checked ------------------------------------------------------------------------------
def nan_model(tmp_path: Path) -> Path:
    """The shipped int8 model with its output multiplied by NaN."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(WEIGHTS / "emotion_net.int8.onnx"))
    output = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = [f"{name}_inner" if name == output else name for name in node.output]
    model.graph.initializer.append(helper.make_tensor("nan_scale", TensorProto.FLOAT, [], [float("nan")]))
    model.graph.node.append(helper.make_node("Mul", [f"{output}_inner", "nan_scale"], [output]))
    path = tmp_path / "nan.onnx"
    onnx.save(model, str(path))
    return path


def test_a_model_that_outputs_nan_is_counted_never_drawn_or_written(tmp_path):
    events, summary_path = tmp_path / "e.jsonl", tmp_path / "s.json"
    result = run_app(tmp_path, "--headless", "--engine", "onnx", "--source", "demo", "--max-frames", "20",
                     "--model", str(nan_model(tmp_path)), "--events", str(events), "--record", str(tmp_path / "r.avi"),
                     "--summary-json", str(summary_path))
    assert result.returncode == 0, result.stderr
    assert "non-finite" in result.stdout and "Traceback" not in result.stderr
    lines = events.read_text().splitlines()
    assert len(lines) == 20 and all(json.loads(line)["faces"] == [] for line in lines)  # strict JSON: no NaN
    assert json.loads(summary_path.read_text())["nonfinite_outputs"] >= 20


def write_lines(path: Path, records: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def frame(t, faces, index=0):
    return {"frame": index, "t": t, "detected": True, "faces": faces}


def face(face_id=1, p=0.9):
    probs = {"happy": p, "sad": round(1 - p, 4)}
    return {"id": face_id, "box": [0, 0, 10, 10], "label": "happy", "score": p, "probs": probs, "raw": probs}


def test_report_skips_records_of_the_wrong_shape_or_range_and_counts_them(tmp_path):
    events = write_lines(tmp_path / "e.jsonl", [
        frame(0.0, [face()]), frame(0.1, [face()], 1),
        '{"frame": 2, "t": Infinity, "faces": []}', '{"frame": 3, "t": NaN, "faces": []}',
        '{"frame": 4, "t": 0.2, "faces": [{"id": 1e999, "probs": {"happy": 1, "sad": 0}}]}',
        frame(0.3, [1]), frame([1, 2], []), frame(-5.0, [face()]), frame(0.4, [face(p=7.0)]),
        frame(0.5, [{"id": True, "probs": {"happy": 1, "sad": 0}}]),
        {"event": "mood_snapshot", "t": 0.1, "face": 1, "playlist_mood": "$\\frac{1}{0}$ ^_^ $", "started": True},
        {"event": "mood_snapshot", "t": "soon", "face": 1},
        frame(0.6, [face()], 5),
    ])
    result = run_app(tmp_path, "report", str(events), "--out", str(tmp_path / "r.png"), "--json", str(tmp_path / "r.json"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "skipped 9" in result.stderr
    info = json.loads((tmp_path / "r.json").read_text())
    assert info["frames"] == 3 and info["skipped_lines"] == 9 and info["faces"]["1"]["frames"] == 3
    assert (tmp_path / "r.png").stat().st_size > 0


def test_report_memory_is_bounded_in_the_number_of_faces(tmp_path):
    many = [frame(i * 0.01, [face(face_id=i * 100 + k) for k in range(100)], i) for i in range(200)]  # 20,000 ids
    many.append(frame(3.0, [face(face_id=0)] * 1, 200))
    timeline = read_events(write_lines(tmp_path / "e.jsonl", many))
    assert len(timeline.faces) == MAX_FACES  # time series only for the faces longest on screen
    info = summary(timeline)
    assert info["faces_seen"] == 20000 and info["other_faces"]["count"] == 20000 - MAX_FACES


# -- pipes -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["run", "report"])
def test_a_closed_stdout_loses_no_output_and_prints_no_traceback(tmp_path, command):
    events = tmp_path / "e.jsonl"
    if command == "run":
        args = ["--headless", "--engine", "onnx", "--source", "demo", "--max-frames", "10", "--events", str(events),
                "--report", str(tmp_path / "r.png")]
    else:
        demo_events(tmp_path)
        args = ["report", str(events), "--out", str(tmp_path / "r.png")]
    quoted = " ".join(f"'{a}'" for a in [sys.executable, "run_edge.py", *args])
    # `true` exits at once: the app's stdout is a pipe nobody reads any more
    result = subprocess.run(["bash", "-c", f"{quoted} | true; exit ${{PIPESTATUS[0]}}"], cwd=ROOT,
                            env=app_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.returncode == 0 and (tmp_path / "r.png").stat().st_size > 0


# -- shared and secret files -------------------------------------------------------------------------------
def test_an_events_file_another_run_is_writing_is_refused(tmp_path):
    events = tmp_path / "e.jsonl"
    events.write_text('{"frame": 0}\n')
    with open(events, "a") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running app holds it
        line = one_line_error(run_app(tmp_path, "--headless", "--source", "demo", "--max-frames", "5",
                                      "--events", str(events)))
    assert "being written by another running" in line and events.read_text() == '{"frame": 0}\n'


def test_two_runs_on_one_events_file_never_interleave(tmp_path):
    events = tmp_path / "e.jsonl"
    first = start_app(tmp_path, "--source", "demo", "--max-frames", "0", "--events", str(events))
    wait_until(lambda: events.is_file() and events.stat().st_size > 0, what="the first run's events")
    second = run_app(tmp_path, "--headless", "--engine", "onnx", "--source", "demo", "--max-frames", "5",
                     "--events", str(events))
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=20)
    assert "being written by another running" in one_line_error(second)
    assert all(json.loads(line) for line in events.read_text().splitlines())


def test_token_cache_is_written_0600_never_through_a_symlink(tmp_path):
    from emotion_dj.music.spotify import MusicError, PrivateTokenCache

    target = tmp_path / "elsewhere.json"
    target.write_text('{"access_token": "an old one"}')
    cache = tmp_path / "token.json"
    os.symlink(target, cache)
    PrivateTokenCache(cache_path=str(cache)).save_token_to_cache({"access_token": "t", "expires_at": 9e9})
    assert target.read_text() == '{"access_token": "an old one"}' and not cache.is_symlink()
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600 and json.loads(cache.read_text())["access_token"] == "t"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    notes = tmp_path / "notes.txt"  # a link to a file that is no token: refused, and neither is touched
    notes.write_text("not yours")
    other = tmp_path / "other-token.json"
    os.symlink(notes, other)
    with pytest.raises(MusicError, match="does not hold a Spotify token"):
        PrivateTokenCache(cache_path=str(other)).save_token_to_cache({"access_token": "t"})
    assert other.is_symlink() and notes.read_text() == "not yours"


def test_a_token_cache_readable_by_others_is_made_private_with_a_warning(tmp_path, caplog):
    from emotion_dj.music.spotify import PrivateTokenCache

    cache = tmp_path / "token.json"
    cache.write_text(json.dumps({"access_token": "t"}))
    os.chmod(cache, 0o666)
    assert PrivateTokenCache(cache_path=str(cache)).get_cached_token()["access_token"] == "t"
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600 and "made it private" in caplog.text


@pytest.mark.parametrize("url, shown", [
    ("rtsp://admin:p@ss@cam.local:554/live", "rtsp://***@cam.local:554/live"),
    ("ftp://user:pw123@host/file.mp4", "ftp://***@host/file.mp4"),
    ("rtmpt://u:hunter2@host/app", "rtmpt://***@host/app"),
    ("http://cam/video?user=a&password=hunter2", "http://cam/video?user=a&password=***"),
    ("https://cam/v.mjpg?token=abc123&fps=5", "https://cam/v.mjpg?token=***&fps=5"),
    ("rtsp://cam/x?Api_Key=k3y#t", "rtsp://cam/x?Api_Key=***#t"),
    ("http://cam/plain.mjpg", "http://cam/plain.mjpg"),
    # mangled by Path() ('//' -> '/'), mistyped, or a scheme that is not a stream's; and anywhere in a message
    ("video not found: ftp:/admin:hunter2@10.0.0.1/a.mp4", "video not found: ftp:/***@10.0.0.1/a.mp4"),
    ("http:/admin:hunter2@cam/v.mjpg", "http:/***@cam/v.mjpg"),
    ("mms://admin:hunter2@cam/live", "mms://***@cam/live"),
    ("https://b.s3.example/v.mp4?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12&X-Amz-Expires=60",
     "https://b.s3.example/v.mp4?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60"),
    ("rtsp://cam/live?passphrase=hunter2&auth_token=hunter2&session_id=hunter2",
     "rtsp://cam/live?passphrase=***&auth_token=***&session_id=***"),
])
def test_credentials_are_redacted_for_every_scheme(url, shown):
    assert redact(url) == shown


@pytest.mark.parametrize("source", [
    "ftp://admin:hunter2@127.0.0.1/clip.mp4",  # not a stream scheme: taken as a file path, which Path() mangles
    "mms://admin:hunter2@127.0.0.1/live",
    "http:/admin:hunter2@127.0.0.1/v.mjpg",
    "http://127.0.0.1:9/v.mjpg?passphrase=hunter2&X-Amz-Signature=hunter2",
])
def test_no_secret_of_a_source_url_reaches_any_output_even_verbose(source, tmp_path):
    for extra in ([], ["--verbose"]):
        done = subprocess.run([sys.executable, "-m", "emotion_dj", "--source", source, "--headless", "--stream-timeout", "1",
                               "--summary-json", str(tmp_path / "s.json"), *extra], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode != 0 and done.stderr.strip(), done
        assert "hunter2" not in done.stdout + done.stderr, (extra, done.stderr[-1500:])


# -- the one-second promise ------------------------------------------------------------------------------
def test_events_are_flushed_during_a_stall_so_a_kill_loses_at_most_a_second(tmp_path):
    events = tmp_path / "e.jsonl"
    with MjpegServer(frames=5, fps=20) as stream:
        app = start_app(tmp_path, "--source", stream.url, "--stream-timeout", "120", "--events", str(events))
        # 5 frames in a quarter of a second, then the stream stalls: within about a second all 5 lines must be on
        # disk although no further line is written (a flush only on writes would leave them in the buffer)
        wait_until(lambda: events.is_file() and len(events.read_text().splitlines()) >= 5, timeout=15,
                   what="every line flushed while the stream stalls")
        app.kill()
        app.communicate(timeout=10)
    assert len(frame_lines(events)) == 5


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_during_start_up_is_one_line(tmp_path, sig):
    from tests.test_faults import catches_sigterm

    app = start_app(tmp_path, "--source", "demo")
    wait_until(lambda: catches_sigterm(app.pid) or app.poll() is not None, what="the signal handlers")
    app.send_signal(sig)
    out, err = app.communicate(timeout=30)
    assert app.returncode in (0, 130), err
    assert "Traceback" not in err and ("terminated" in out + err or "hung up" in out + err)


SLOW_ENGINE_APP = textwrap.dedent("""
    # the app with an engine that takes two seconds to load, saying when it starts and ends (a stand-in for a big
    # model on a slow disk): the test's signal can land before, during or after the load
    import sys, time
    import emotion_dj.runtime.app as app
    real = app.create_engine
    def slow_engine(*args, **kwargs):
        print("LOADING", file=sys.stderr, flush=True)
        time.sleep(2)
        engine = real(*args, **kwargs)
        print("LOADED", file=sys.stderr, flush=True)
        return engine
    app.create_engine = slow_engine
    from emotion_dj.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("phase", ["before", "during", "after"])
@pytest.mark.parametrize("sig, reason", [(signal.SIGINT, "interrupted (Ctrl-C)"), (signal.SIGTERM, "terminated (SIGTERM)")])
def test_a_stop_signal_before_during_or_after_the_model_loads_is_one_line_and_exit_130(tmp_path, phase, sig, reason):
    """'before': as soon as the handlers are in; 'during': while the engine loads; 'after': once it has loaded
    (warm-up, the source). Each is one line on stderr, exit 130, never a traceback (a SIGINT during the load used to
    end in 'cannot join thread before it is started' and exit 1)."""
    from tests.test_faults import app_env, catches_sigterm

    app = processes.start([sys.executable, "-c", SLOW_ENGINE_APP, "--source", "demo", "--headless", "--engine", "onnx"],
                          cwd=ROOT, env=app_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(app.stderr), daemon=True)
    reader.start()
    wanted = {"before": None, "during": "LOADING", "after": "LOADED"}[phase]
    wait_until(lambda: catches_sigterm(app.pid) and (wanted is None or wanted + "\n" in lines) or app.poll() is not None,
               what=f"the moment {phase} the load")
    app.send_signal(sig)
    out = app.stdout.read()
    app.wait(timeout=60)
    reader.join(timeout=10)
    said = [line for line in lines if line.strip() not in ("LOADING", "LOADED")]
    assert app.returncode == 130, (app.returncode, said)
    assert said == [f"error: {reason} during start-up\n"], said
    assert out == ""


def test_a_second_sigterm_during_cleanup_still_ends_cleanly(tmp_path):
    with MjpegServer() as stream:
        events = tmp_path / "e.jsonl"
        app = start_app(tmp_path, "--source", stream.url, "--events", str(events), "--record", str(tmp_path / "r.mp4"))
        wait_until(lambda: events.is_file() and events.stat().st_size > 0, what="events")
        app.send_signal(signal.SIGTERM)
        time.sleep(0.01)
        app.send_signal(signal.SIGTERM)
        out, err = app.communicate(timeout=10)
    # the second signal landed while the first one's cleanup ran (10 ms after it): the documented 130, the run whole
    assert app.returncode == 130 and "Traceback" not in err, (app.returncode, err[-1000:])
    assert frame_lines(events) and "Emotion DJ:" in out


# -- memory limits -----------------------------------------------------------------------------------------
def huge_png(path: Path, width: int, height: int) -> Path:
    """A tiny file whose header claims width x height pixels (the pixels never decode)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("size", [(20000, 20000), (8000, 7000)])
def test_an_image_above_the_pixel_limit_is_refused_before_decoding(tmp_path, size):
    line = one_line_error(run_app(tmp_path, "--headless", "--source", str(huge_png(tmp_path / "big.png", *size)),
                                  "--record", str(tmp_path / "r.mp4")))
    assert "50 MP limit" in line


# -- model files that pass the contract check but fail later ---------------------------------------------
def fixed_batch_model(tmp_path: Path, batch: int) -> Path:
    import onnx

    model = onnx.load(str(WEIGHTS / "emotion_net.int8.onnx"))
    for value in (model.graph.input[0], model.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_value = batch
    path = tmp_path / f"batch{batch}.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("batch", [1, 8])
def test_a_fixed_batch_model_runs_with_batches_split_to_it(tmp_path, batch):
    from emotion_dj.runtime.engines import create_engine

    engine = create_engine("onnx", device="cpu", model=fixed_batch_model(tmp_path, batch))
    faces = np.random.default_rng(0).integers(0, 256, (11, 1, 48, 48), dtype=np.uint8)
    reference = create_engine("onnx", device="cpu", model=WEIGHTS / "emotion_net.int8.onnx")
    np.testing.assert_allclose(engine.infer(faces), reference.infer(faces), atol=1e-5)
    result = run_app(tmp_path, "--headless", "--engine", "onnx", "--source", "demo", "--max-frames", "5",
                     "--model", str(fixed_batch_model(tmp_path, batch)))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("crop, message", [
    ("[1, 2]", "crop must be a JSON object"), ('"abc"', "crop must be a JSON object"),
    ('{"margin": -0.5}', "crop margin must be a number from 0"), ('{"margin": "wide"}', "crop margin"),
    ('{"landmark_weights": "abc"}', "landmark_weights must be a list"),
])
def test_crop_metadata_of_the_wrong_type_or_range_is_refused_at_load(tmp_path, crop, message):
    import onnx

    from emotion_dj.export.metadata import attach_metadata

    path = tmp_path / "crop.onnx"
    model = onnx.load(str(WEIGHTS / "emotion_net.int8.onnx"))
    onnx.save(model, str(path))
    attach_metadata(path, {**{p.key: p.value for p in model.metadata_props}, "crop": crop})
    line = one_line_error(run_app(tmp_path, "--headless", "--source", "demo", "--max-frames", "3", "--model", str(path)))
    assert message in line


def test_a_checkpoint_without_its_model_card_says_which_crop_it_uses(tmp_path):
    checkpoint = tmp_path / "emotion_net.pt"
    checkpoint.write_bytes((WEIGHTS / "emotion_net.pt").read_bytes())
    result = run_app(tmp_path, "--headless", "--engine", "torch", "--source", "demo", "--max-frames", "3",
                     "--model", str(checkpoint))
    assert result.returncode == 0, result.stderr
    assert "no model_card.json" in result.stderr and "default crop" in result.stderr


# -- the music worker survives every error ---------------------------------------------------------------
def test_the_music_worker_survives_an_unexpected_error_and_the_next_press_works(capsys):
    from emotion_dj.music.pace import PlaylistPace

    calls = []

    def create(mood, say):
        calls.append(mood)
        if len(calls) == 1:
            raise TypeError("expected str, bytes or os.PathLike object, not int")
        return Outcome(True, "made it")

    worker = MusicWorker(create, pace=PlaylistPace(0.0))  # presses at once: the pace is tested in test_pace.py
    snap = MoodSnapshot(mood_by_name("happy"), 0.9, {"happy": 0.9})
    assert worker.request(snap)
    worker.join(5)
    assert "failed - TypeError" in worker.status and "playlist failed" in capsys.readouterr().err
    assert worker.request(snap)
    worker.join(5)
    assert worker.status.endswith("made it")


@pytest.mark.parametrize("env, config, message", [
    ({"SPOTIPY_REDIRECT_URI": "http://127.0.0.1:99999/callback"}, None, "SPOTIPY_REDIRECT_URI must be"),
    ({}, {"client_id": "x", "token_cache": 5}, "token_cache must be a string"),
    ({"SPOTIFY_API_URL": "file:///etc/"}, None, "SPOTIFY_API_URL must be an https:// address"),
    ({"SPOTIFY_API_URL": "ftp://example.com/v1/"}, None, "SPOTIFY_API_URL must be an https:// address"),
    ({"SPOTIFY_ACCOUNTS_URL": "javascript:alert(1)"}, None, "SPOTIFY_ACCOUNTS_URL must be an https:// address"),
    ({}, "[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ({}, "\udcff", "is not valid JSON"),
])
def test_a_bad_spotify_setting_is_a_hud_line_not_a_dead_thread(tmp_path, monkeypatch, capsys, env, config, message):
    from emotion_dj.runtime.app import LazyPlaylistService, RunConfig

    config_path = tmp_path / "config.json"
    if isinstance(config, str):
        config_path.write_bytes(config.encode("utf-8", "surrogateescape"))
    else:
        config_path.write_text(json.dumps(config or {}))
    monkeypatch.setenv("EMOTION_DJ_CONFIG", str(config_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    outcome = LazyPlaylistService(RunConfig())(mood_by_name("happy"), lambda line: None)
    assert not outcome.ok and message in outcome.message
    worker = MusicWorker(LazyPlaylistService(RunConfig()))  # through the worker, as P and the page call it
    assert worker.request(MoodSnapshot(mood_by_name("happy"), 0.9, {"happy": 0.9}))
    worker.join(5)
    assert "failed - " in worker.status and message in worker.status
    assert capsys.readouterr().err.count("\n") == 1
