import logging

import numpy as np
import pytest

from emotion_dj.train.data import CLASSES, DatasetError, load_fer2013


def test_folder_layout_splits_and_cleaning(tiny_folder, caplog):
    with caplog.at_level(logging.INFO):
        splits = load_fer2013(tiny_folder)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [6 * 7, 14, 14]
    assert splits["train"].dropped == {"undecodable": 1, "near-blank": 1}
    assert "dropped 1 undecodable" in caplog.text and "dropped 1 near-blank" in caplog.text
    assert splits["train"].images.dtype == np.uint8 and splits["train"].images.shape[1:] == (48, 48)
    assert np.bincount(splits["test"].labels).tolist() == [2] * 7


def test_csv_form_maps_its_own_label_order(tiny_csv, tiny_folder):
    splits = load_fer2013(tiny_csv)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [42, 14, 14]
    assert splits["train"].dropped == {"undecodable": 1, "near-blank": 1}
    # CSV label 6 is neutral; our class index of neutral is 4. Synthetic faces encode the class in brightness.
    neutral = splits["train"].images[splits["train"].labels == CLASSES.index("neutral")]
    assert abs(float(neutral[:, 40:, :].mean()) - (40 + 25 * CLASSES.index("neutral"))) < 8


def test_a_single_split_loads_alone(tiny_folder):
    assert set(load_fer2013(tiny_folder, splits=("test",))) == {"test"}


def test_data_dir_from_environment(tiny_folder, monkeypatch):
    monkeypatch.setenv("FER2013_DIR", str(tiny_folder))
    assert len(load_fer2013(None, splits=("val",))["val"]) == 14


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "nope", "dataset not found"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "neither train/ and test/"),
    (lambda p: (p / "bad.csv").write_text("a,b\n1,2\n") and p / "bad.csv", "missing column"),
])
def test_missing_or_malformed_dataset_is_one_clear_error(tmp_path, make, message):
    with pytest.raises(DatasetError, match=message):
        load_fer2013(make(tmp_path))


def test_no_dataset_given(monkeypatch):
    monkeypatch.delenv("FER2013_DIR", raising=False)
    with pytest.raises(DatasetError, match="FER2013_DIR"):
        load_fer2013(None)


def test_the_dataset_tests_take_the_csv_form_too(tiny_csv, monkeypatch):
    from tests.conftest import fer2013_from_env

    monkeypatch.setenv("FER2013_DIR", str(tiny_csv))
    assert fer2013_from_env() == tiny_csv  # a CSV path is used, not skipped
    assert len(load_fer2013(fer2013_from_env(), splits=("test",))["test"].labels) > 0
    monkeypatch.delenv("FER2013_DIR")
    assert fer2013_from_env() is None
