"""The cropper that frames detected faces for the model: landmark alignment, the box rule, frame edges, sizes."""
import math

import cv2
import numpy as np
import pytest

from emotion_dj.core.contract import CropSpec
from emotion_dj.runtime.faces import FaceCropper

LANDMARK_SPEC = CropSpec(margin=0.0, eye_scale=2.4, eye_center_y=0.12)


def synthetic_face(size: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """A grey frame with a drawn face (skin oval, two eyes, nose, mouth) and its 5 landmarks (x, y)."""
    frame = np.full((size, size, 3), 60, np.uint8)
    c = size / 2
    cv2.ellipse(frame, (int(c), int(c)), (70, 90), 0, 0, 360, (170, 170, 170), -1)
    eyes = np.array([[c - 30, c - 25], [c + 30, c - 25]], np.float32)
    for x, y in eyes:
        cv2.circle(frame, (int(x), int(y)), 8, (20, 20, 20), -1)
    cv2.line(frame, (int(c), int(c - 10)), (int(c), int(c + 15)), (90, 90, 90), 4)
    cv2.ellipse(frame, (int(c), int(c + 40)), (28, 10), 0, 0, 180, (30, 30, 30), 4)
    landmarks = np.array([*eyes, [c, c + 10], [c - 25, c + 40], [c + 25, c + 40]], np.float32)
    return frame, landmarks


def rotate(frame: np.ndarray, landmarks: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    centre = (frame.shape[1] / 2, frame.shape[0] / 2)
    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    turned = cv2.warpAffine(frame, matrix, frame.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    points = np.hstack([landmarks, np.ones((len(landmarks), 1), np.float32)]) @ matrix.T
    return turned, points.astype(np.float32)


def box_of(landmarks: np.ndarray) -> np.ndarray:
    x0, y0 = landmarks.min(0) - 20
    x1, y1 = landmarks.max(0) + 20
    return np.array([x0, y0, x1 - x0, y1 - y0], np.int32)


def test_landmarks_level_a_rotated_face():
    frame, marks = synthetic_face()
    cropper = FaceCropper(48, spec=LANDMARK_SPEC)
    upright = cropper.crop(frame, box_of(marks)[None], marks[None])[0, 0].astype(int)
    turned, turned_marks = rotate(frame, marks, 25)
    aligned = cropper.crop(turned, box_of(turned_marks)[None], turned_marks[None])[0, 0].astype(int)
    assert np.abs(aligned - upright).mean() < 4  # the same face, levelled
    box_only = FaceCropper(48, spec=CropSpec(margin=0.0)).crop(turned, box_of(turned_marks)[None])[0, 0].astype(int)
    assert np.abs(box_only - upright).mean() > 3 * np.abs(aligned - upright).mean()  # without landmarks it stays turned
    # the eyes (the darkest pixels: 20 against a 60 background and a 170 face) sit level, where the spec puts them
    eyes = np.argwhere(aligned[:24] < 45)
    left, right = eyes[eyes[:, 1] < 24], eyes[eyes[:, 1] >= 24]
    assert len(left) and len(right) and abs(left[:, 0].mean() - right[:, 0].mean()) < 1.0
    expected_row = (48 - 1) / 2 - LANDMARK_SPEC.eye_center_y * 48
    assert abs(eyes[:, 0].mean() - expected_row) < 1.5


def test_eye_distance_sets_the_scale():
    frame, marks = synthetic_face()
    big = cv2.resize(frame, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    cropper = FaceCropper(48, spec=LANDMARK_SPEC)
    small_crop = cropper.crop(frame, box_of(marks)[None], marks[None])[0, 0].astype(int)
    big_crop = cropper.crop(big, box_of(marks * 2)[None], (marks * 2)[None])[0, 0].astype(int)
    assert np.abs(small_crop - big_crop).mean() < 3


def test_the_box_rule_applies_margin_and_shift():
    frame = np.zeros((200, 200, 3), np.uint8)
    frame[:100] = 255  # top half white
    box = np.array([[50, 50, 100, 100]], np.int32)  # centred on the edge between the halves
    level = FaceCropper(48, spec=CropSpec(margin=0.0)).crop(frame, box)[0, 0]
    assert abs(int(level[:24].mean()) - 255) < 3 and level[24:].mean() < 3
    down = FaceCropper(48, spec=CropSpec(margin=0.0, shift_y=0.25)).crop(frame, box)[0, 0]
    assert abs(int(down[:12].mean()) - 255) < 3 and down[14:].mean() < 3  # the square moved a quarter down


def test_boxes_at_the_frame_edge_are_padded_with_replicated_pixels():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    pad = 60
    padded = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    cropper = FaceCropper(48, spec=CropSpec(margin=0.0))
    for box in ([-30, -20, 80, 80], [120, 70, 80, 80], [100, -30, 90, 90]):  # each partly outside
        inside = cropper.crop(frame, np.array([box], np.int32))[0, 0].copy()
        shifted = np.array([[box[0] + pad, box[1] + pad, box[2], box[3]]], np.int32)
        reference = cropper.crop(padded, shifted)[0, 0]
        assert np.abs(inside.astype(int) - reference).max() <= 1


def test_tiny_and_huge_boxes():
    frame = np.full((480, 640, 3), 100, np.uint8)
    cropper = FaceCropper(48, max_faces=3)
    boxes = np.array([[10, 10, 1, 1], [5, 5, 0, 0], [-2000, -2000, 5000, 5000]], np.int32)
    batch = cropper.crop(frame, boxes)
    assert batch.shape == (3, 1, 48, 48)
    assert not batch[:2].any()  # nothing to see in a box under two pixels: a blank crop, not an error
    assert abs(int(batch[2].mean()) - 100) <= 1  # a box far larger than the frame: replicated frame, no error


def test_the_batch_is_reused_and_nothing_is_allocated_per_frame():
    frame, marks = synthetic_face()
    cropper = FaceCropper(48, spec=LANDMARK_SPEC)
    first = cropper.crop(frame, box_of(marks)[None], marks[None])
    second = cropper.crop(frame, box_of(marks)[None], marks[None])
    assert first.base is cropper.batch and second.base is cropper.batch
    levels = [id(level) for level in cropper._levels]
    cropper.crop(frame, box_of(marks)[None], marks[None])
    assert [id(level) for level in cropper._levels] == levels


def test_angles_come_from_the_eye_line():
    cropper = FaceCropper(48, spec=LANDMARK_SPEC)
    marks = np.array([[100, 100], [140, 140], [0, 0], [0, 0], [0, 0]], np.float32)
    _, _, side, angle = cropper.square(np.array([0, 0, 10, 10]), marks)
    assert math.isclose(angle, math.pi / 4, abs_tol=1e-6) and math.isclose(side, math.hypot(40, 40) * 2.4, rel_tol=1e-6)


def test_fitted_landmark_weights_in_compact_form_crop_like_the_eye_rule():
    frame, marks = synthetic_face()
    turned, turned_marks = rotate(frame, marks, 20)
    compact = FaceCropper(48, spec=LANDMARK_SPEC)
    weights = [w for row in LANDMARK_SPEC.landmark_matrix() for w in row]
    spec = CropSpec.from_json(CropSpec(margin=0.0, landmark_weights=weights).to_json())  # survives the metadata
    assert spec.landmark_weights == tuple(weights) and spec.has_landmark_rule
    box = box_of(turned_marks)[None]
    assert np.array_equal(FaceCropper(48, spec=spec).crop(turned, box, turned_marks[None]),
                          compact.crop(turned, box, turned_marks[None]))


def test_the_landmark_fit_recovers_where_the_crops_lie():
    """Faces whose true crop is a known linear function of their landmarks: the fit finds that function."""
    from benchmarks.pipeline_accuracy import fit_landmark_rule
    from emotion_dj.train.placed_faces import Found, Placement

    rng = np.random.default_rng(0)
    found, where = [], []
    for _ in range(200):
        size = float(rng.uniform(80, 300))
        x, y = rng.uniform(0, 300, 2)
        # eyes level, their distance 0.35 of the side; nose and mouth wander; the crop follows the nose sideways
        nose_dx = rng.uniform(-0.05, 0.05) * size
        right_eye = np.array([x + 0.32 * size + nose_dx, y + 0.38 * size])
        left_eye = right_eye + [0.35 * size, 0]
        nose = right_eye + [0.175 * size + 2 * nose_dx, 0.2 * size]
        mouth = [right_eye + [0.05 * size, 0.37 * size], left_eye + [-0.05 * size, 0.37 * size]]
        landmarks = np.array([right_eye, left_eye, nose, *mouth], np.float32)
        box = np.array([x + rng.uniform(-5, 5), y, size, size * 1.1], np.float32)
        found.append(Found(box, landmarks, True))
        where.append(Placement(int(round(size)), int(x), int(y), 0, 0, 1.0, 0))
    spec = CropSpec(margin=0.0, landmark_weights=fit_landmark_rule(found, where, ridge=0.0))
    cropper = FaceCropper(48, spec=spec)
    for f, p in zip(found[:20], where[:20]):
        cx, cy, side, angle = cropper.square(f.box, f.landmarks)
        assert abs(cx - (p.x + p.size / 2)) < 1.5 and abs(cy - (p.y + p.size / 2)) < 1.5
        assert abs(side / p.size - 1) < 0.02 and abs(angle) < 1e-6


@pytest.mark.parametrize("spec, marks", [
    (CropSpec(), None),
    (CropSpec(eye_scale=2.7, eye_center_y=0.1), np.array([[[150, 140], [200, 132], [176, 170], [155, 200], [196, 196]]],
                                                         np.float32)),
])
def test_a_mirrored_crop_is_the_crop_mirrored_by_the_same_warp(spec, marks):
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), (9, 9), 3)
    cropper = FaceCropper(48, spec=spec)
    box = np.array([[100, 80, 150, 160]], np.int32)
    plain = cropper.crop(frame, box, marks).copy()
    assert np.array_equal(cropper.crop(frame, box, marks, mirror=True), plain[..., ::-1])


def test_mirror_alternate_mirrors_every_other_processed_frame():
    from emotion_dj.core.contract import ModelInfo
    from emotion_dj.runtime.detectors import Detections
    from emotion_dj.runtime.engines import Engine
    from emotion_dj.runtime.frames import Frame
    from emotion_dj.runtime.processor import FrameProcessor

    class Seen(Engine):  # an engine that keeps what it was given
        batches: list = []

        def __init__(self):
            super().__init__(ModelInfo(classes=("a", "b"), input_size=48, precision="fp32", temperature=1.0))

        @classmethod
        def create(cls, options):
            raise NotImplementedError

        def describe(self):
            return "seen"

        def infer(self, faces):
            self.batches.append(faces.copy())
            return np.tile([0.4, 0.6], (len(faces), 1)).astype(np.float32)

    class OneBox:
        def detect(self, image):
            return Detections(np.array([[100, 80, 150, 160]], np.int32), np.ones(1, np.float32), None)

    rng = np.random.default_rng(1)
    image = cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), (9, 9), 3)
    engine = Seen()
    processor = FrameProcessor(OneBox(), engine, mirror_alternate=True)
    for index in range(4):
        processor.process(Frame(index, index / 30, image.copy()))
    first, second, third, fourth = engine.batches
    assert np.array_equal(first, third) and np.array_equal(second, fourth)
    assert np.array_equal(second, first[..., ::-1]) and not np.array_equal(first, second)
