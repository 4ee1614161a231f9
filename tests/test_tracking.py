import numpy as np

from emotion_dj.runtime.tracking import FaceTracker, iou_matrix


def test_iou():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]], np.float32)
    assert np.allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]])


def test_ids_follow_moving_faces_and_new_faces_get_new_ids():
    tracker = FaceTracker()
    probs = np.full((2, 7), 1 / 7, np.float32)
    ids = []
    for step in range(20):
        boxes = np.array([[10 + 3 * step, 20, 80, 80], [400 - 3 * step, 200, 90, 90]], np.int32)
        ids.append([t.id for t in tracker.update(boxes, probs, step / 30)])
    assert all(frame_ids == [1, 2] for frame_ids in ids)
    tracks = tracker.update(np.array([[10 + 60, 20, 80, 80], [400 - 60, 200, 90, 90], [250, 10, 60, 60]], np.int32),
                            np.full((3, 7), 1 / 7, np.float32), 21 / 30)
    assert [t.id for t in tracks] == [1, 2, 3]


def test_lost_faces_expire():
    tracker = FaceTracker(max_misses=2)
    tracker.update(np.array([[0, 0, 50, 50]], np.int32), np.full((1, 7), 1 / 7, np.float32), 0.0)
    for i in range(3):
        tracker.update(np.empty((0, 4), np.int32), np.empty((0, 7), np.float32), 0.1 * (i + 1))
    assert tracker.tracks == []


def test_smoothing_damps_a_one_frame_flicker_but_follows_a_lasting_change():
    tracker = FaceTracker(label_tau=0.4)
    box = np.array([[0, 0, 50, 50]], np.int32)
    happy, sad = np.eye(7, dtype=np.float32)[[3]], np.eye(7, dtype=np.float32)[[5]]
    t = 0.0
    for _ in range(30):
        tracker.update(box, happy, t)
        t += 1 / 30
    (track,) = tracker.update(box, sad, t)  # one odd frame
    assert track.probs.argmax() == 3
    for _ in range(30):
        t += 1 / 30
        (track,) = tracker.update(box, sad, t)
    assert track.probs.argmax() == 5
    assert track.mood[3] > track.probs[3]  # the mood remembers the last seconds longer
