import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from emotion_dj.export.metadata import train_commands
from emotion_dj.train.checkpoint import load_checkpoint, save_checkpoint
from emotion_dj.train.metrics import (
    classification_report,
    expected_calibration_error,
    fit_temperature,
    softmax,
)
from emotion_dj.train.model import CustomDeepEmotionNet
from emotion_dj.train.train import main as train_main
from emotion_dj.train.train import train_one_epoch


class _Bar:
    def update(self, n): pass
    def set_postfix(self, **kw): pass


def test_a_few_steps_reduce_the_loss():
    torch.manual_seed(0)
    model = CustomDeepEmotionNet(48, widths=(8, 8, 16, 16, 16), dropout=0.0)
    images = torch.randint(0, 256, (32, 1, 48, 48), dtype=torch.uint8)
    labels = torch.arange(32) % 7
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    losses = [train_one_epoch(model, images, labels, nn.Identity(), loss_fn, optimizer, scaler, None, 16, 0.5, 0.3, _Bar())[0]
              for _ in range(20)]
    assert losses[-1] < 0.8 * losses[0]


def test_training_run_writes_its_artefacts(tiny_checkpoint):
    out = tiny_checkpoint.parent
    for name in ("history.csv", "history.json", "curves.png", "last.pt", "metrics.json", "confusion_test.png"):
        assert (out / name).is_file(), name
    best = load_checkpoint(out / "best.pt")
    assert best["temperature"] > 0 and set(best["metrics"]) == {"labels", "temperature", "val", "test"}
    assert best["dataset"]["train"]["dropped"] == {"undecodable": 1, "near-blank": 1}


def test_resume_continues_the_saved_run_not_a_fresh_one(tiny_checkpoint, tiny_csv, tmp_path):
    """A fresh run with the same seed would write the same numbers, so the saved state is marked: a real resume
    keeps the saved history rows (marks included), starts at epoch 3 and continues from the saved weights."""
    out = tmp_path / "run"  # a copy: the session's tiny run stays as other tests read it
    shutil.copytree(tiny_checkpoint.parent, out)
    last = load_checkpoint(out / "last.pt")
    for row in last["history"]:
        row["seconds"] = 4321.0  # no epoch of a tiny run takes this long
    with torch.no_grad():
        last["state_dict"]["head.2.bias"] += 100.0  # a resumed run starts from these weights
    save_checkpoint(out / "last.pt", last)
    assert train_main(["--data", str(tiny_csv), "--epochs", "3", "--batch-size", "16", "--widths", "8,8,16,16,16",
                       "--out", str(out), "--amp", "off", "--resume"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert [row["seconds"] for row in history[:2]] == [4321.0, 4321.0] and history[2]["seconds"] < 4321.0
    resumed = load_checkpoint(out / "last.pt")["state_dict"]["head.2.bias"]
    assert float(resumed.mean()) > 50  # one epoch of AdamW moves a bias by far less than the +100 it started with


def test_temperature_scaling_reduces_calibration_error_of_overconfident_logits():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 2000)
    logits = rng.normal(0, 1, (2000, 7))
    logits[np.arange(2000), labels] += 1.5
    logits *= 4  # overconfident
    temperature = fit_temperature(logits, labels)
    assert 2.5 < temperature < 6
    assert expected_calibration_error(softmax(logits, temperature), labels) < expected_calibration_error(softmax(logits), labels) / 2


def test_report_fields():
    probs = np.eye(7)[[0, 1, 2, 3, 4, 5, 6, 6]]
    report = classification_report(probs, np.array([0, 1, 2, 3, 4, 5, 6, 5]), tuple("abcdefg"))
    assert report["accuracy"] == 7 / 8 and report["per_class"]["g"]["precision"] == 0.5
    assert report["per_class"]["f"]["recall"] == 0.5 and 0 < report["macro_f1"] < 1


def test_weight_ema_is_validated_saved_and_resumed(tiny_csv, tmp_path):
    args = ["--data", str(tiny_csv), "--batch-size", "16", "--widths", "8,8,16,16,16", "--out", str(tmp_path),
            "--amp", "off", "--ema", "0.9"]
    assert train_main([*args, "--epochs", "1"]) == 0
    last = load_checkpoint(tmp_path / "last.pt")
    assert "ema_state" in last and int(last["ema_state"]["n_averaged"]) == 2  # 42 images / batch 16 = 2 steps
    best = load_checkpoint(tmp_path / "best.pt")
    assert not torch.equal(best["state_dict"]["head.2.weight"], last["state_dict"]["head.2.weight"])
    last["ema_state"]["n_averaged"] += 100  # a mark only a resumed average carries on from (a fresh run would say 4)
    save_checkpoint(tmp_path / "last.pt", last)
    assert train_main([*args, "--epochs", "2", "--resume"]) == 0
    assert int(load_checkpoint(tmp_path / "last.pt")["ema_state"]["n_averaged"]) == 104


@pytest.mark.parametrize("optimizer, schedule", [("sgd", "cosine"), ("adamw", "onecycle")])
def test_two_epochs_then_two_resumed_match_four_straight(optimizer, schedule, tiny_csv, tmp_path, monkeypatch):
    """Resume restores everything a run depends on (weights, optimiser, schedule, EMA, both random generators): a run
    stopped after epoch 2 and resumed ends with exactly the weights, average and history of one that never stopped."""
    from emotion_dj.train import train as training

    args = ["--data", str(tiny_csv), "--batch-size", "16", "--widths", "8,8,16,16,16", "--amp", "off", "--epochs", "4",
            "--optimizer", optimizer, "--schedule", schedule, "--lr", "0.01", "--ema", "0.9", "--mixup", "0.2"]
    assert train_main([*args, "--out", str(tmp_path / "straight")]) == 0
    real_save = training.save_checkpoint

    def save_then_stop_after_epoch_2(path, payload):
        real_save(path, payload)
        if Path(path).name == "last.pt" and payload["epoch"] == 2:
            raise KeyboardInterrupt  # Ctrl-C right after the second epoch was saved
    monkeypatch.setattr(training, "save_checkpoint", save_then_stop_after_epoch_2)
    assert train_main([*args, "--out", str(tmp_path / "stopped")]) == 130
    monkeypatch.setattr(training, "save_checkpoint", real_save)
    assert load_checkpoint(tmp_path / "stopped" / "last.pt")["epoch"] == 2
    assert train_main([*args, "--out", str(tmp_path / "stopped"), "--resume"]) == 0
    straight, resumed = (load_checkpoint(tmp_path / name / "last.pt") for name in ("straight", "stopped"))
    assert resumed["epoch"] == straight["epoch"] == 4
    for key in ("state_dict", "ema_state"):
        for name, tensor in straight[key].items():
            assert torch.equal(tensor, resumed[key][name]), (key, name)
    drop = ("seconds",)
    assert [{k: v for k, v in row.items() if k not in drop} for row in resumed["history"]] == \
        [{k: v for k, v in row.items() if k not in drop} for row in straight["history"]]


def test_init_starts_from_given_weights_and_rejects_another_shape(tiny_checkpoint, tiny_csv, tmp_path, capsys):
    args = ["--data", str(tiny_csv), "--batch-size", "16", "--epochs", "1", "--amp", "off", "--init", str(tiny_checkpoint)]
    # lr 0: the optimiser leaves the weights alone, so the run's weights must be exactly the --init ones.
    assert train_main([*args, "--widths", "8,8,16,16,16", "--lr", "0", "--out", str(tmp_path / "ft")]) == 0
    init, tuned = load_checkpoint(tiny_checkpoint)["state_dict"], load_checkpoint(tmp_path / "ft" / "last.pt")["state_dict"]
    convs = [name for name, tensor in init.items() if tensor.ndim == 4]
    assert convs and all(torch.equal(init[name], tuned[name]) for name in convs)
    best = load_checkpoint(tmp_path / "ft" / "best.pt")
    assert best["initialized_from"]["train_config"] == load_checkpoint(tiny_checkpoint)["train_config"]
    first, second = train_commands(best, "runs/x")
    assert "--out runs/x-init" in first and "--init" not in first
    assert " --lr 0.0 " in second and " --widths 8,8,16,16,16 " in second
    assert second.endswith("--seed 0 --init runs/x-init/best.pt --out runs/x")
    capsys.readouterr()
    assert train_main([*args, "--widths", "8,8,16,16,32", "--out", str(tmp_path / "other")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: --init") and "\n" not in error


def test_sgd_with_cosine_schedule_and_mixup_trains_and_its_state_loads_back(tiny_csv, tmp_path):
    args = ["--data", str(tiny_csv), "--batch-size", "16", "--widths", "8,8,16,16,16", "--out", str(tmp_path),
            "--amp", "off", "--optimizer", "sgd", "--schedule", "cosine", "--lr", "0.01", "--mixup", "0.2"]
    assert train_main([*args, "--epochs", "4"]) == 0
    assert train_main([*args, "--epochs", "4", "--resume"]) == 0  # the SGD and cosine states load back
    history = load_checkpoint(tmp_path / "last.pt")["history"]
    lrs = [row["lr"] for row in history]
    assert len(lrs) == 4 and lrs == sorted(lrs, reverse=True) and lrs[-1] < 1e-5  # cosine to ~0 at the last epoch
    assert load_checkpoint(tmp_path / "best.pt")["train_config"]["optimizer"] == "sgd"


def test_extra_training_faces_join_the_run_and_the_recipe(tiny_csv, tmp_path, capsys):
    extra = tmp_path / "crops.npz"
    rng = np.random.default_rng(0)
    about = {"detectors": {"yunet": 22}, "crop": {"eye_scale": 2.7}, "seed": 3, "split": "train"}
    np.savez(extra, images=rng.integers(0, 256, (22, 48, 48), dtype=np.uint8), labels=np.arange(22) % 7,
             about=json.dumps(about))
    args = ["--data", str(tiny_csv), "--batch-size", "16", "--widths", "8,8,16,16,16", "--amp", "off", "--ema", "0.9",
            "--epochs", "1"]
    assert train_main([*args, "--out", str(tmp_path / "run"), "--extra-train", str(extra)]) == 0
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert int(last["ema_state"]["n_averaged"]) == 4  # (42 + 22) faces / batch 16: the extra faces were trained on
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best["dataset"]["extra_train"] == [{"path": str(extra), "images": 22, "about": about}]
    made, trained = train_commands(best, "runs/x")
    assert made.startswith(f"python -m emotion_dj.train.detector_crops --data $FER2013_DIR --out {extra} --crop ")
    assert '"eye_scale": 2.7' in made and made.endswith("--seed 3")
    assert f"--extra-train {extra} " in trained
    # A later stage started from it still lists how its crops were made.
    assert train_main([*args, "--out", str(tmp_path / "next"), "--init", str(tmp_path / "run" / "best.pt")]) == 0
    commands = train_commands(load_checkpoint(tmp_path / "next" / "best.pt"), "runs/y")
    assert commands[0] == made and f"--extra-train {extra} " in commands[1] and "--extra-train" not in commands[2]
    np.savez(tmp_path / "bad.npz", images=np.zeros((3, 32, 32), np.uint8), labels=np.zeros(3))
    capsys.readouterr()
    assert train_main([*args, "--out", str(tmp_path / "bad"), "--extra-train", str(tmp_path / "bad.npz")]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after the run's log lines, one error line
    assert error.startswith("error: --extra-train") and "(48, 48)" in error


def test_light_augmentation_is_chosen_recorded_and_keeps_the_face_whole(tiny_csv, tmp_path, monkeypatch):
    from kornia.augmentation import RandomErasing

    from emotion_dj.train.augment import build_augmentation

    assert any(isinstance(step, RandomErasing) for step in build_augmentation("standard").children())
    assert not any(isinstance(step, RandomErasing) for step in build_augmentation("light").children())
    with pytest.raises(ValueError, match="unknown augmentation"):
        build_augmentation("heavy")
    args = ["--data", str(tiny_csv), "--batch-size", "16", "--widths", "8,8,16,16,16", "--amp", "off", "--epochs", "1",
            "--augment", "light", "--out", str(tmp_path)]
    from tests.test_ferplus import watch_training

    seen = watch_training(monkeypatch)
    assert train_main(args) == 0
    # the augmentation the epochs really ran with: no erasing, so the whole face is kept
    assert seen["augment"] is not None and not any(isinstance(step, RandomErasing) for step in seen["augment"].modules())
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["train_config"]["augment"] == "light"
    assert " --augment light " in train_commands(best, "runs/x")[-1]  # the model card's recipe names it


def test_detector_crops_user_errors_end_in_one_line(tmp_path, capsys):
    from emotion_dj.train.detector_crops import main as crops_main

    cases = [(["--crop", "{bad"], "--crop"), (["--weights", str(tmp_path / "none")], "model_card.json"),
             (["--out", str(tmp_path / "file" / "x.npz")], "cannot write")]
    (tmp_path / "file").write_text("a file where a folder should be")
    for args, said in cases:
        out = args if "--out" in args else [*args, "--out", str(tmp_path / "x.npz")]
        try:
            code = crops_main([*out, "--data", str(tmp_path), "--limit", "2"])
        except SystemExit as stop:  # argparse's own one-line usage error
            code = stop.code
        assert code == 2, args
        error = capsys.readouterr().err.strip().splitlines()
        assert error and said in error[-1] and "Traceback" not in "\n".join(error), (args, error)


def test_label_smoothing_and_mixup_reach_the_training_loop(tiny_csv, tmp_path, monkeypatch):
    """Each option is handed to the loop as asked (a mutation that drops either one fails here)."""
    from emotion_dj.train import train as training

    seen = []

    def first_epoch_then_stop(model, images, targets, augment, loss_fn, *args, **kwargs):
        seen.append((loss_fn.label_smoothing, args[8] if len(args) > 8 else kwargs.get("mixup")))
        raise KeyboardInterrupt
    monkeypatch.setattr(training, "train_one_epoch", first_epoch_then_stop)
    base = ["--data", str(tiny_csv), "--batch-size", "16", "--widths", "8,8,16,16,16", "--amp", "off", "--epochs", "1"]
    assert train_main([*base, "--out", str(tmp_path / "a"), "--label-smoothing", "0.3", "--mixup", "0.4"]) == 130
    assert train_main([*base, "--out", str(tmp_path / "b")]) == 130
    assert seen == [(0.3, 0.4), (0.1, 0.0)]  # the defaults: smoothing 0.1, no mixup


def _one_epoch_loss(mixup: float, smoothing: float) -> float:
    torch.manual_seed(0)
    np.random.seed(0)
    model = CustomDeepEmotionNet(48, widths=(8, 8, 16, 16, 16), dropout=0.0)
    images = torch.randint(0, 256, (32, 1, 48, 48), dtype=torch.uint8)
    labels = torch.arange(32) % 7
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=smoothing)
    return train_one_epoch(model, images, labels, nn.Identity(), loss_fn, optimizer, scaler, None, 16, 0.5, 0.3, _Bar(),
                           mixup=mixup)[0]


def test_mixup_and_label_smoothing_change_what_the_loop_trains_on():
    plain = _one_epoch_loss(0.0, 0.0)
    assert _one_epoch_loss(0.0, 0.0) == plain  # the same seed, the same run
    assert abs(_one_epoch_loss(0.4, 0.0) - plain) > 1e-4  # blended faces and targets: another loss
    assert abs(_one_epoch_loss(0.0, 0.5) - plain) > 1e-4


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_one_mixup_step_is_exactly_the_blend_of_two_faces_and_of_their_two_losses(monkeypatch, smoothing):
    """The loop's mixup, step by step: faces blended w : 1 - w with a shuffled partner, the loss blended the same way
    (a mutant that flips a sign, drops the blend or skips it for small alphas fails here)."""
    monkeypatch.setattr(np.random, "beta", lambda a, b: 0.3)
    model = CustomDeepEmotionNet(48, widths=(8, 8, 16, 16, 16), dropout=0.0)
    images = torch.randint(0, 256, (16, 1, 48, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(16) % 7
    loss_fn = nn.CrossEntropyLoss(label_smoothing=smoothing)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # the weights stay: the step's loss is reproducible
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    torch.manual_seed(5)
    got = train_one_epoch(model, images, labels, nn.Identity(), loss_fn, optimizer, scaler, None, 16, 0.5, 0.3, _Bar(),
                          mixup=0.2)[0]
    torch.manual_seed(5)  # the same draws: the epoch's order, then the partner
    order = torch.randperm(16)
    partner = torch.randperm(16)
    from emotion_dj.train.evaluate import normalize_batch

    x = (normalize_batch(images[order], 0.0, 1.0, 48) - 0.5) / 0.3
    x = 0.3 * x + 0.7 * x[partner]
    model.train()
    with torch.no_grad():
        logits = model(x.contiguous(memory_format=torch.channels_last))
    target = labels[order]
    expected = 0.3 * loss_fn(logits, target) + 0.7 * loss_fn(logits, target[partner])
    assert got == pytest.approx(float(expected), rel=1e-5)


def test_an_epochs_loss_and_accuracy_are_the_means_over_every_face_of_every_step():
    """Two steps of 16 with the weights held (lr 0): the reported loss and accuracy are those of all 32 faces."""
    from emotion_dj.train.evaluate import normalize_batch

    model = CustomDeepEmotionNet(48, widths=(8, 8, 16, 16, 16), dropout=0.0)
    images = torch.randint(0, 256, (32, 1, 48, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    labels = torch.arange(32) % 7
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    torch.manual_seed(9)
    loss, accuracy, steps = train_one_epoch(model, images, labels, nn.Identity(), loss_fn, optimizer, scaler, None, 16,
                                            0.5, 0.3, _Bar())
    torch.manual_seed(9)
    order = torch.randperm(32)
    model.train()
    losses, right = [], 0
    with torch.no_grad():
        for step in range(2):
            index = order[step * 16:(step + 1) * 16]
            x = (normalize_batch(images[index], 0.0, 1.0, 48) - 0.5) / 0.3
            logits = model(x.contiguous(memory_format=torch.channels_last))
            losses.append(float(loss_fn(logits, labels[index])))
            right += int((logits.argmax(1) == labels[index]).sum())
    assert steps == 2
    assert loss == pytest.approx(sum(losses) / 2, rel=1e-5) and accuracy == pytest.approx(right / 32)
