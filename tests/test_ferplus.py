"""FER+ labels: the reference rules, the 8-class training run, and the crowd metrics."""
import csv

import numpy as np
import pytest
import torch

from emotion_dj.train.checkpoint import load_checkpoint
from emotion_dj.train.data import CLASSES, DatasetError, load_fer2013
from emotion_dj.train.evaluate import evaluate
from emotion_dj.train.ferplus import FERPLUS_CLASSES, VOTE_COLUMNS, kept_votes
from emotion_dj.train.metrics import choose_logit_adjustment, crowd_agreement, macro_recall, vote_calibration_error
from emotion_dj.train.train import main as train_main
from emotion_dj.train.train import remap_head

# votes in the file's order: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
ANGER_9 = [1, 0, 0, 0, 9, 0, 0, 0, 0, 0]
SPLIT_4_3_3 = [4, 0, 3, 0, 0, 3, 0, 0, 0, 0]
UNKNOWN_TOP = [2, 0, 0, 0, 0, 0, 0, 0, 6, 2]
ONE_EACH = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]


def test_majority_rule_drops_single_votes_and_needs_more_than_half():
    assert list(kept_votes(np.array(ANGER_9), "majority")) == [0, 0, 0, 0, 9, 0, 0, 0]  # the single neutral vote goes
    assert kept_votes(np.array(SPLIT_4_3_3), "majority") is None  # 4 of 10 is no majority
    assert kept_votes(np.array(UNKNOWN_TOP), "majority") is None
    assert kept_votes(np.array(ONE_EACH), "majority") is None  # every vote an outlier
    assert list(kept_votes(np.array([5, 0, 0, 0, 0, 0, 0, 0, 0, 4]), "majority")) == [5, 0, 0, 0, 0, 0, 0, 0]


def test_probability_rule_keeps_up_to_three_top_emotions():
    assert list(kept_votes(np.array(SPLIT_4_3_3), "probability")) == [4, 0, 3, 0, 0, 3, 0, 0]
    assert kept_votes(np.array(UNKNOWN_TOP), "probability") is None
    # unknown ties an emotion that came first: the emotion stands, unknown is not kept
    assert list(kept_votes(np.array([6, 0, 0, 0, 0, 0, 0, 0, 2, 2]), "probability")) == [6, 0, 0, 0, 0, 0, 0, 0]
    assert kept_votes(np.array([4, 0, 0, 0, 0, 0, 0, 0, 4, 2]), "probability") is None  # 4 of 10 kept: too few


@pytest.mark.parametrize("votes, kept", [
    ([0, 0, 0, 0, 0, 0, 2, 5, 1, 1], [0, 0, 0, 0, 0, 0, 2, 5, 0, 0]),  # 5 of 7 is under 75%: the next emotion joins
    ([0, 0, 0, 0, 0, 0, 2, 6, 0, 1], [0, 0, 0, 0, 0, 0, 0, 6, 0, 0]),  # 6 of 8 is 75% exactly: enough
    ([0, 0, 0, 0, 0, 0, 2, 3, 2, 2], [0, 0, 0, 0, 0, 0, 2, 3, 0, 0]),  # unknown and NF tie fear after it: fear stands
    ([0, 0, 0, 0, 2, 2, 2, 2, 0, 1], None),  # four emotions tie on top: more than 3
    ([0, 0, 0, 0, 2, 2, 2, 2, 0, 2], None),  # ...and NF ties them too
    ([0, 0, 0, 0, 0, 2, 2, 3, 0, 3], None),  # NF ties the top emotion: the search stops, 3 of 10 is too few
    ([0, 0, 0, 0, 0, 0, 0, 4, 1, 4], None),  # 4 of 8 kept is half, not more than half
])
def test_probability_rule_edges_the_mutants_found(votes, kept):
    # each row is one the file can hold (10 votes); docs/TESTING.md lists the mutants each one catches
    result = kept_votes(np.array(votes), "probability")
    assert (result if result is None else list(result)) == (kept if kept is None else kept[:8])


def test_an_unknown_mode_names_the_known_ones():
    with pytest.raises(ValueError) as raised:
        kept_votes(np.array(ANGER_9), "plurality")
    assert str(raised.value) == "unknown FER+ target mode 'plurality' (known: probability, majority)"


def test_reference_counts_on_the_shared_copy(fer_dir):
    """The counts the FER+ README gives for the reference majority rule (needs the shared votes beside the data)."""
    splits = load_fer2013(fer_dir, drop_blank_in=(), labels="ferplus", target_mode="majority")
    assert {name: len(split) for name, split in splits.items()} == {"train": 25060, "val": 3199, "test": 3153}
    assert splits["test"].classes == FERPLUS_CLASSES and np.bincount(splits["test"].labels)[7] == 16  # contempt


def write_votes(folder, path, rng):
    """Votes for the tiny folder: each face's own class wins 7-9 votes; some train faces get no majority."""
    column = {name: VOTE_COLUMNS.index(col) for name, col in zip(
        ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear"),
        ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear"))}
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "usage", "row", *VOTE_COLUMNS])
        for row, image in enumerate(sorted(folder.rglob("*.jpg"))):
            votes = [0] * 10
            name = image.parent.name
            top = int(rng.integers(7, 10))
            votes[column[name]] = top
            votes[VOTE_COLUMNS.index("contempt") if row % 9 == 0 else 0] += 10 - top
            relative = image.relative_to(folder).as_posix()
            usage = "Training" if relative.startswith("train/") else relative.split("/")[-1].split("_")[0]
            writer.writerow([relative, usage, row, *votes])


def watch_training(monkeypatch, tau: float | None = None) -> dict:
    """What train.run() really hands on: the targets and augmentation each epoch trains with, the loss's class weights,
    and the head's bias before the logit adjustment is folded in (with `tau`, the adjustment chosen is that one)."""
    from emotion_dj.train import train as training

    seen: dict = {"augment": None, "loss_weight": None}
    real_epoch, real_loss, real_adjust = training.train_one_epoch, training.nn.CrossEntropyLoss, training.adjust_for_rare_classes

    def train_one_epoch(model, images, targets, augment, loss_fn, *args, **kwargs):
        seen["targets"], seen["augment"] = targets.detach().cpu().clone(), augment
        return real_epoch(model, images, targets, augment, loss_fn, *args, **kwargs)

    class CrossEntropyLoss(real_loss):
        def __init__(self, weight=None, **kwargs):
            super().__init__(weight=weight, **kwargs)
            seen["loss_weight"] = None if weight is None else weight.detach().cpu().clone()

    def adjust_for_rare_classes(model, splits, device):
        seen["bias_before_fold"] = model.head[2].bias.detach().cpu().clone()
        return real_adjust(model, splits, device)

    monkeypatch.setattr(training, "train_one_epoch", train_one_epoch)
    monkeypatch.setattr(training.nn, "CrossEntropyLoss", CrossEntropyLoss)
    monkeypatch.setattr(training, "adjust_for_rare_classes", adjust_for_rare_classes)
    if tau is not None:
        monkeypatch.setattr(training, "choose_logit_adjustment", lambda logits, labels, log_prior: (tau, {str(tau): {}}))
    return seen


def test_ferplus_training_run_is_8_classes_with_a_rare_class_adjustment(tiny_folder, tmp_path, capsys, monkeypatch):
    votes = tmp_path / "ferplus_labels.csv"
    write_votes(tiny_folder, votes, np.random.default_rng(0))
    out = tmp_path / "run"
    seen = watch_training(monkeypatch, tau=0.7)  # a tau the fold must show in the saved bias (the tiny val may pick 0)
    assert train_main(["--data", str(tiny_folder), "--labels", "ferplus", "--ferplus", str(votes), "--epochs", "2",
                       "--batch-size", "16", "--widths", "8,8,16,16,16", "--out", str(out), "--amp", "off",
                       "--schedule", "onecycle", "--class-weights", "sqrt"]) == 0
    best = load_checkpoint(out / "best.pt")
    # the loss got the sqrt class weights of the training targets (the average face keeps weight 1)
    share = seen["targets"].float().mean(0)
    expected = share.clamp_min(1e-4).rsqrt()
    expected = expected / (share * expected).sum()
    assert seen["loss_weight"] is not None and torch.allclose(seen["loss_weight"], expected)
    # the logit adjustment went into the saved head's bias: bias - tau * log(train prior)
    log_prior = torch.log(torch.clamp(torch.tensor(best["metrics"]["logit_adjustment"]["train_prior"]), min=1e-6))
    assert best["metrics"]["logit_adjustment"]["tau"] == 0.7
    # (the prior is recorded to 5 decimals: about 1e-3 on the rarest class's log)
    assert torch.allclose(best["state_dict"]["head.2.bias"], seen["bias_before_fold"] - 0.7 * log_prior, atol=2e-3)
    assert best["classes"] == list(FERPLUS_CLASSES) and best["model_config"]["num_classes"] == 8
    assert best["train_config"]["class_weights"] == "sqrt"
    assert best["labels"] == "ferplus" and 0.0 <= best["metrics"]["logit_adjustment"]["tau"] <= 1.5
    assert 0 <= best["metrics"]["val"]["macro_recall"] <= 1
    result = evaluate(str(out / "best.pt"), str(tiny_folder), "test", labels="ferplus", ferplus=str(votes), flip=True)
    report = result["report"]
    assert report["n"] == 14 and len(report["per_class"]) == 8 and 0 <= report["crowd_agreement"] <= 1
    assert "report_flip" in result and 0 <= result["fer2013_accuracy"] <= 1 and result["fer2013_faces"] == 14
    # the same 8-class model against FER2013's own labels: every class reported, contempt without faces
    original = evaluate(str(out / "best.pt"), str(tiny_folder), "test", labels="fer2013")
    assert original["report"]["per_class"]["contempt"]["support"] == 0 and original["report"]["n"] == 14


def test_ferplus_needs_its_votes_file(tiny_folder, tmp_path):
    with pytest.raises(DatasetError, match="FER\\+ votes not found"):
        load_fer2013(tiny_folder, labels="ferplus", ferplus=str(tmp_path / "missing.csv"))


def test_a_7_class_head_is_remapped_by_class_name():
    weight = torch.arange(7 * 3, dtype=torch.float32).reshape(7, 3)
    bias = torch.arange(7, dtype=torch.float32)
    state = remap_head({"head.2.weight": weight, "head.2.bias": bias}, list(CLASSES), list(FERPLUS_CLASSES))
    assert torch.equal(state["head.2.weight"][:7], weight) and torch.equal(state["head.2.bias"][:7], bias)
    assert torch.equal(state["head.2.weight"][7], torch.zeros(3)) and float(state["head.2.bias"][7]) == 3.0


def test_crowd_metrics():
    votes = np.array([[8, 2, 0], [0, 5, 5]], dtype=np.float32)
    probs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert crowd_agreement(probs, votes) == pytest.approx((0.8 + 0.5) / 2)
    # confidence 1.0 where 80% and 50% of the taggers agree: off by 0.35 on average
    assert vote_calibration_error(probs, votes) == pytest.approx(0.35)
    assert macro_recall(np.array([0, 0, 1]), np.array([0, 1, 1]), 3) == pytest.approx((1 + 0.5 + 0) / 3)


def test_logit_adjustment_lifts_a_rare_class_that_is_never_predicted():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 90 + [1] * 10)
    logits = rng.normal(0, 0.1, (100, 2))
    logits[:, 0] += 1.0
    logits[90:, 1] += 0.8  # the rare class scores higher on its own faces, but never wins
    log_prior = np.log(np.array([0.9, 0.1]))
    tau, tried = choose_logit_adjustment(logits, labels, log_prior)
    assert tried[0.0]["macro_recall"] == 0.5 and tau > 0 and tried[tau]["macro_recall"] > 0.9


def test_dry_run_reports_the_schedules_step_count(tiny_csv, capsys):
    assert train_main(["--data", str(tiny_csv), "--epochs", "5", "--batch-size", "16", "--widths", "8,8,16,16,16",
                       "--amp", "off", "--dry-run", "1", "--out", "/nonexistent/never-written"]) == 0
    out = capsys.readouterr().out
    assert "42 training faces, batch 16: 2 steps per epoch, 10 steps in 5 epochs" in out  # 42 // 16 = 2
    assert "ms per step" in out and "projected" in out


def test_distillation_blends_the_flip_averaged_teacher_into_the_targets(tiny_folder, tmp_path, monkeypatch):
    from emotion_dj.train.train import distilled_targets, teacher_probabilities

    votes = tmp_path / "ferplus_labels.csv"
    write_votes(tiny_folder, votes, np.random.default_rng(0))
    common = ["--data", str(tiny_folder), "--labels", "ferplus", "--ferplus", str(votes), "--epochs", "1",
              "--batch-size", "16", "--widths", "8,8,16,16,16", "--amp", "off", "--schedule", "onecycle"]
    assert train_main([*common, "--out", str(tmp_path / "teacher")]) == 0
    teacher = tmp_path / "teacher" / "best.pt"
    images = load_fer2013(tiny_folder, labels="ferplus", ferplus=str(votes))["train"].images
    probs = teacher_probabilities(teacher, images, list(FERPLUS_CLASSES), torch.device("cpu"))
    mirrored = teacher_probabilities(teacher, np.ascontiguousarray(images[..., ::-1]), list(FERPLUS_CLASSES), torch.device("cpu"))
    assert probs.shape == (len(images), 8) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.allclose(probs, mirrored, atol=1e-6)  # the mean over a face and its mirror is mirror-invariant
    blended = distilled_targets(torch.tensor([0, 7]), probs[:2], 0.25)
    assert torch.allclose(blended, 0.75 * torch.eye(8)[[0, 7]] + 0.25 * torch.from_numpy(probs[:2]))
    seen = watch_training(monkeypatch)
    assert train_main([*common, "--teacher", str(teacher), "--distill", "0.5", "--out", str(tmp_path / "student")]) == 0
    assert load_checkpoint(tmp_path / "student" / "best.pt")["train_config"]["distill"] == 0.5
    # what the loss trained on: the crowd's distributions blended half and half with the teacher's view
    crowd = torch.from_numpy(load_fer2013(tiny_folder, labels="ferplus", ferplus=str(votes))["train"].targets).float()
    assert torch.allclose(seen["targets"], distilled_targets(crowd, probs, 0.5), atol=1e-5)
    assert not torch.allclose(seen["targets"], crowd, atol=1e-3)
    # a share outside 0..1: one line, exit 2
    assert train_main([*common, "--teacher", str(teacher), "--distill", "1.5", "--out", str(tmp_path / "bad")]) == 2


# -- the training options' own rules, in-process and fast (mutation testing sees these; docs/TESTING.md) ------------

def test_distilled_targets_blend_one_hot_labels_or_crowd_shares_with_the_teacher_by_its_share():
    from emotion_dj.train.train import TrainingError, distilled_targets

    teacher = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]], dtype=np.float32)
    indices = torch.tensor([1, 0, 2])  # no face of the last class, and more faces than classes would be wrong too
    blended = distilled_targets(indices, teacher, 0.25)
    expected = 0.75 * torch.eye(4)[[1, 0, 2]] + 0.25 * torch.from_numpy(teacher)
    assert blended.dtype == torch.float32 and torch.equal(blended, expected)
    crowd = torch.tensor([[0.5, 0.5, 0, 0], [0, 0, 1, 0], [0, 0.25, 0, 0.75]], dtype=torch.float64)  # FER+ shares
    shared = distilled_targets(crowd, teacher, 0.5)
    assert shared.dtype == torch.float32
    assert torch.allclose(shared, 0.5 * crowd.float() + 0.5 * torch.from_numpy(teacher), atol=0, rtol=0)
    assert torch.equal(distilled_targets(indices, teacher, 0.0), torch.eye(4)[[1, 0, 2]])  # the edges are allowed
    assert torch.equal(distilled_targets(indices, teacher, 1.0), torch.from_numpy(teacher))
    # the teacher follows the labels to their device (a GPU's in training; the meta device stands in for one here)
    assert distilled_targets(indices.to("meta"), teacher, 0.5).device.type == "meta"
    for outside in (-0.01, 1.01):
        with pytest.raises(TrainingError) as raised:
            distilled_targets(indices, teacher, outside)
        assert str(raised.value) == f"--distill {outside}: the teacher's share must lie in 0..1"


def test_the_rare_class_adjustment_folds_tau_times_the_train_prior_into_the_head_bias(monkeypatch):
    from types import SimpleNamespace

    from emotion_dj.train import train as training

    rng = np.random.default_rng(0)
    # val: 90 faces of class 0, 10 of class 1 that score higher on their own class but never win; class 2 never wins
    labels = np.array([0] * 90 + [1] * 10)
    logits = rng.normal(0, 0.1, (100, 3)).astype(np.float32)
    logits[:, 0] += 1.0
    logits[90:, 1] += 0.8
    logits[:, 2] -= 100.0
    seen = {}

    def predict_logits(model, images, mean, std, device):
        seen.update(model=model, images=images, mean=mean, std=std, device=device)
        return logits

    monkeypatch.setattr(training, "predict_logits", predict_logits)
    model = SimpleNamespace(normalization=(0.5, 0.25), head=torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Dropout(0.0), torch.nn.Linear(4, 3)))
    before = model.head[2].bias.detach().clone()
    train_targets = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32)  # class 2: no train face at all
    val_images = np.zeros((100, 48, 48), dtype=np.uint8)
    splits = {"train": SimpleNamespace(targets=train_targets),
              "val": SimpleNamespace(images=val_images, labels=labels)}
    as_tensor, made = torch.as_tensor, []
    monkeypatch.setattr(training.torch, "as_tensor", lambda data, **options: made.append(options) or as_tensor(data, **options))
    report = training.adjust_for_rare_classes(model, splits, torch.device("cpu"))
    monkeypatch.undo()
    # the correction is made in the bias's dtype on the model's device (a CPU tensor cannot be taken from a GPU's bias)
    assert made == [{"dtype": torch.float32, "device": torch.device("cpu")}]

    log_prior = np.log([2 / 3, 1 / 3, 1e-6])  # a class without train faces counts as a prior of 1e-6, not log(0)
    tau, tried = choose_logit_adjustment(logits, labels, log_prior)
    assert tau > 0 and report["tau"] == tau
    assert seen == {"model": model, "images": val_images, "mean": 0.5, "std": 0.25, "device": torch.device("cpu")}
    assert torch.allclose(model.head[2].bias, before - torch.tensor(tau * log_prior, dtype=torch.float32), atol=1e-6)
    assert report == {"tau": tau, "train_prior": [0.66667, 0.33333, 0.0], "chosen_on": "val",
                      "rule": "the highest val macro recall costing at most 0.5 points of val accuracy",
                      "tried": {str(k): v for k, v in tried.items()}}
    assert list(report["tried"])[:3] == ["0.0", "0.1", "0.2"]
