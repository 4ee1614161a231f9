"""One plugin shape for engines, detectors and sources: registries, typed options, auto orders, and the example
in docs/ARCHITECTURE.md (run from the document itself, so it cannot rot)."""
import re
import sys

import numpy as np
import pytest

from emotion_dj.core.errors import UserError
from emotion_dj.runtime.detectors import DETECTORS, create_detector
from emotion_dj.runtime.engines import create_engine
from emotion_dj.runtime.sources import open_source, source_kind
from tests.conftest import ROOT


def test_the_architecture_example_adds_a_detector_with_one_file_and_one_line(tmp_path, monkeypatch):
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    code = re.search(r"```python\n# emotion_dj/runtime/detectors/(\w+)\.py\n(.*?)```", text, re.S)
    module, source = code.group(1), code.group(2)
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    line = re.search(r'`"centre": "emotion_dj\.runtime\.detectors\.(\w+):(\w+)",`', text)
    monkeypatch.setitem(DETECTORS.plugins, "centre", f"{line.group(1)}:{line.group(2)}")  # the one registry line
    detector = create_detector("centre", fraction=0.25)
    found = detector.detect(np.zeros((400, 600, 3), np.uint8))
    assert found.boxes.tolist() == [[250, 150, 100, 100]]
    with pytest.raises(UserError, match="does not take option"):
        create_detector("centre", min_face=3)
    sys.modules.pop(module, None)


def test_unknown_options_are_errors_not_dropped():
    with pytest.raises(UserError, match="engine 'torch' does not take option"):
        create_engine("torch", "fp32", "cpu", threads=1)
    with pytest.raises(UserError, match="detector 'yunet' does not take option"):
        create_detector("yunet", min_face=10)
    with pytest.raises(UserError, match="no detector takes option"):
        create_detector("auto", colour="red")


def test_auto_gives_each_candidate_the_options_it_declares():
    assert create_detector("auto", detect_width=160, min_face=30).describe() == "yunet@160"  # min_face is Haar's
    assert create_engine("auto", "fp32", "cpu", threads=1).describe().startswith("onnx")  # threads is ORT's


@pytest.mark.parametrize("spec, kind", [("demo", "demo"), ("0", "camera"), ("rtsp://cam/live", "stream"),
                                        ("HTTP://cam/x.mjpg", "stream"), ("face.JPG", "image"), ("clip.mp4", "video")])
def test_the_source_order_decides_the_kind(spec, kind):
    assert source_kind(spec) == kind


def test_sources_reject_options_of_other_kinds():
    with pytest.raises(UserError, match="source 'demo' does not take option"):
        open_source("demo", reconnect=3)
