"""The mood over time: `run_edge.py report EVENTS.jsonl --out mood.png [--json summary.json]`.

Reads an events file (--events) as a stream, so a run of hours (100k+ lines) is reported in seconds with
little memory: each face's probabilities are averaged into time bins, and the bins are merged pairwise
whenever there would be more than MAX_BINS. Draws, per face (the main ones, by time on screen), the
expressions as a stacked area over time, with markers where P was pressed; a summary panel gives each face's
dominant expression, its share of the time, and the valence over time. Writes .png, .svg or .html.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emotion_dj.core.errors import UserError
from emotion_dj.core.outputs import Output, guard_outputs
from emotion_dj.runtime.palette import hex_color

log = logging.getLogger(__name__)
MAX_BINS = 2048  # per face; bins double in width beyond this
FIRST_BIN_SECONDS = 0.1
MAX_FACES = 4  # panels for the faces longest on screen
POSITIVE, NEGATIVE = ("happy", "surprise"), ("angry", "contempt", "disgust", "fear", "sad")


@dataclass
class FaceSeries:
    """One face's probabilities summed into time bins, and how often each expression led."""

    classes: int
    sums: np.ndarray = field(init=False)  # MAX_BINS x classes: probabilities summed per time bin
    counts: np.ndarray = field(init=False)  # frames per bin
    leading: np.ndarray = field(init=False)  # frames each class led
    frames: int = 0
    first: float = float("inf")
    last: float = 0.0

    def __post_init__(self):
        self.sums = np.zeros((MAX_BINS, self.classes), np.float64)
        self.counts = np.zeros(MAX_BINS, np.int64)
        self.leading = np.zeros(self.classes, np.int64)

    def points(self, bin_seconds: float) -> tuple[np.ndarray, np.ndarray]:
        """(bin centres in seconds, mean probabilities) of the bins this face was seen in."""
        used = self.counts > 0
        return (np.nonzero(used)[0] + 0.5) * bin_seconds, self.sums[used] / self.counts[used, None]


@dataclass
class Timeline:
    classes: tuple[str, ...] = ()
    bin_seconds: float = FIRST_BIN_SECONDS
    faces: dict[int, FaceSeries] = field(default_factory=dict)  # only the MAX_FACES faces longest on screen
    frames_per_face: dict[int, int] = field(default_factory=dict)  # every face id: its frame count
    snapshots: list[dict] = field(default_factory=list)
    playlists: list[dict] = field(default_factory=list)
    frames: int = 0
    duration: float = 0.0
    skipped_lines: int = 0
    torn_line: int = 0  # the number of a bad last line (a run killed mid-write), 0 if none

    def add_face(self, face_id: int, t: float, probs: np.ndarray) -> None:
        series = self.faces.get(face_id)
        if series is None:
            series = self.faces[face_id] = FaceSeries(len(self.classes))
        index = int(t / self.bin_seconds)
        while index >= MAX_BINS:
            self._coarsen()
            index = int(t / self.bin_seconds)
        series.sums[index] += probs
        series.counts[index] += 1
        series.leading[int(probs.argmax())] += 1
        series.frames += 1
        series.first, series.last = min(series.first, t), max(series.last, t)

    def _coarsen(self) -> None:
        """Halve the resolution: bin pairs merge, for every face."""
        for series in self.faces.values():
            series.sums[: MAX_BINS // 2] = series.sums.reshape(MAX_BINS // 2, 2, -1).sum(axis=1)
            series.sums[MAX_BINS // 2:] = 0
            series.counts[: MAX_BINS // 2] = series.counts.reshape(MAX_BINS // 2, 2).sum(axis=1)
            series.counts[MAX_BINS // 2:] = 0
        self.bin_seconds *= 2


class BadRecord(ValueError):
    """A line that parses as JSON but is not a record run_edge.py writes (wrong shape, type or range)."""


MAX_SECONDS = 1e7  # about 4 months: a later time stamp is not from a run of this app
MAX_FACE_ID = 2 ** 53  # what JSON numbers hold exactly
MAX_LINE_BYTES = 8 << 20  # a frame of 32 faces is about 5 KB; a longer line is skipped unread


def _seconds(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_SECONDS:
        raise BadRecord(f"time {value!r} is not a number of seconds from 0 to {MAX_SECONDS:g}")
    return float(value)


def _face_id(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_FACE_ID:
        raise BadRecord(f"face id {value!r} is not a whole number")
    return value


def _probabilities(values, classes: tuple[str, ...]) -> np.ndarray:
    if not isinstance(values, dict) or not classes or any(c not in values for c in classes):
        raise BadRecord("probabilities are not an object with every class")
    probs = np.fromiter((values[c] if isinstance(values[c], (int, float)) and not isinstance(values[c], bool) else np.nan
                         for c in classes), np.float64, len(classes))
    if not (np.isfinite(probs).all() and probs.min() >= 0 and probs.max() <= 1):
        raise BadRecord("probabilities must be numbers from 0 to 1")
    return probs


def _frame_faces(record: dict, classes: tuple[str, ...]) -> tuple[float, list[tuple[int, np.ndarray]], tuple[str, ...]]:
    """A frame record checked: (t, [(face id, probabilities)], classes); BadRecord if any part is off."""
    t = _seconds(record.get("t"))
    faces = record.get("faces")
    if not isinstance(faces, list) or not all(isinstance(face, dict) for face in faces):
        raise BadRecord("faces is not a list of objects")
    if faces and not classes:
        first = faces[0].get("probs")
        if not isinstance(first, dict) or not 2 <= len(first) <= 64 or not all(isinstance(c, str) for c in first):
            raise BadRecord("the first face's probabilities do not name the classes")
        classes = tuple(first)
    checked = [(_face_id(face.get("id")), _probabilities(face.get("raw") or face.get("probs"), classes)) for face in faces]
    return t, checked, classes


def _lines(path: Path):
    """(line number, bytes) of each line; a line over MAX_LINE_BYTES comes as None, without being held in memory."""
    with open(path, "rb") as f:
        number = 0
        while True:
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                    raw = f.readline(1 << 20)
                yield number, None
                continue
            yield number, raw


def _records(path: Path, timeline: Timeline, count: bool):
    """Each well-formed record; bad lines are counted (when `count`) and a torn last line is told apart."""
    bad_line, pending = 0, False
    for number, raw in _lines(path):
        if pending:  # a bad line with more after it: skipped, counted
            timeline.skipped_lines += count
            pending = False
        if raw is not None and not raw.strip():
            continue
        try:
            if raw is None:
                raise BadRecord("line too long")
            record = json.loads(raw, parse_constant=_no_constant)
            if not isinstance(record, dict):
                raise BadRecord("not an object")
            if "frame" in record:
                record["_checked"] = _frame_faces(record, timeline.classes)
                timeline.classes = record["_checked"][2]
            yield record
        except (ValueError, UnicodeDecodeError, RecursionError):
            bad_line, pending = number, True
    if pending and count:
        timeline.torn_line = bad_line


def _no_constant(name: str):
    raise BadRecord(f"{name} is not a JSON number")  # NaN, Infinity: not valid JSON (RFC 8259)


def read_events(path: Path) -> Timeline:
    """Stream an events file into a Timeline, in two passes so memory stays bounded whatever the number of faces:
    the first counts each face's frames, the second keeps the time series of the MAX_FACES faces longest on screen
    (the rest are summed up as "other faces"). Missing, empty or garbage files are a UserError; records of the wrong
    shape or range are skipped and counted, like a partly written last line (a run killed mid-write)."""
    if not path.is_file():
        raise UserError(f"events file not found: {path}")
    timeline = Timeline()
    for record in _records(path, timeline, count=False):
        if "frame" in record:
            for face_id, _ in record["_checked"][1]:
                timeline.frames_per_face[face_id] = timeline.frames_per_face.get(face_id, 0) + 1
    kept = set(sorted(timeline.frames_per_face, key=lambda f: (-timeline.frames_per_face[f], f))[:MAX_FACES])
    classes, timeline.classes = timeline.classes, ()
    for record in _records(path, timeline, count=True):
        _add(timeline, record, kept)
    timeline.classes = timeline.classes or classes
    if timeline.frames == 0:
        what = "is empty" if path.stat().st_size == 0 else "holds no frame records"
        raise UserError(f"{path} {what}: not an events file from run_edge.py --events")
    if timeline.torn_line:
        log.warning("%s: skipped the last line (%d), which is incomplete: the run was probably killed mid-write",
                    path, timeline.torn_line)
    if timeline.skipped_lines:
        log.warning("%s: skipped %d unreadable or malformed lines", path, timeline.skipped_lines)
    return timeline


def _add(timeline: Timeline, record: dict, kept: set[int]) -> None:
    if "frame" in record:
        t, faces, _ = record["_checked"]
        for face_id, probs in faces:
            if face_id in kept:
                timeline.add_face(face_id, t, probs)
        timeline.frames += 1
        timeline.duration = max(timeline.duration, t)
    elif record.get("event") == "mood_snapshot":
        try:
            _seconds(record.get("t"))
            _face_id(record.get("face"))
        except BadRecord:
            timeline.skipped_lines += 1
            return
        timeline.snapshots.append(record)
    elif record.get("event") == "playlist":
        try:
            _seconds(record.get("t"))
        except BadRecord:
            timeline.skipped_lines += 1
            return
        timeline.playlists.append(record)


def valence(probs: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """happy + surprise - (angry + contempt + disgust + fear + sad), over the classes the model has: -1 .. +1."""
    index = {c: i for i, c in enumerate(classes)}
    plus = sum(probs[..., index[c]] for c in POSITIVE if c in index)
    minus = sum(probs[..., index[c]] for c in NEGATIVE if c in index)
    return plus - minus


def main_faces(timeline: Timeline) -> list[int]:
    return sorted(timeline.faces, key=lambda f: (-timeline.faces[f].frames, f))[:MAX_FACES]


def summary(timeline: Timeline) -> dict:
    """What a script wants: per face, time on screen, dominant expression and each expression's share."""
    faces = {}
    for face_id in main_faces(timeline):
        series = timeline.faces[face_id]
        shares = series.leading / max(1, series.frames)
        dominant = int(shares.argmax())
        mean = series.sums.sum(axis=0) / max(1, series.counts.sum())
        faces[str(face_id)] = {
            "frames": series.frames, "first_seen_s": round(series.first, 3), "last_seen_s": round(series.last, 3),
            "dominant": timeline.classes[dominant], "dominant_share": round(float(shares[dominant]), 4),
            "shares": {c: round(float(s), 4) for c, s in zip(timeline.classes, shares)},
            "mean_probs": {c: round(float(p), 4) for c, p in zip(timeline.classes, mean)},
            "mean_valence": round(float(valence(mean, timeline.classes)), 4),
        }
    return {"frames": timeline.frames, "duration_s": round(timeline.duration, 3), "classes": list(timeline.classes),
            "bin_seconds": timeline.bin_seconds, "faces": faces, "faces_seen": len(timeline.frames_per_face),
            "other_faces": {"count": len(timeline.frames_per_face) - len(faces),
                            "frames": sum(timeline.frames_per_face.values()) - sum(f["frames"] for f in faces.values())},
            "snapshots": [{k: s.get(k) for k in ("t", "face", "playlist_mood", "started")} for s in timeline.snapshots],
            "playlists": [{k: p.get(k) for k in ("t", "ok", "message")} for p in timeline.playlists],
            "skipped_lines": timeline.skipped_lines}


def draw(timeline: Timeline, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    faces = main_faces(timeline)
    classes = timeline.classes
    colors = [hex_color(c) for c in classes]
    figure, axes = plt.subplots(len(faces) + 1, 1, figsize=(11, 2.3 * (len(faces) + 1) + 0.6), sharex=True,
                                squeeze=False)
    axes = axes[:, 0]
    info = summary(timeline)["faces"]
    for ax, face_id in zip(axes, faces):
        times, probs = timeline.faces[face_id].points(timeline.bin_seconds)
        ax.stackplot(times, probs.T, colors=colors, labels=classes, linewidth=0)
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"face #{face_id}")
        face = info[str(face_id)]
        ax.set_title(f"face #{face_id}: {face['dominant']} {face['dominant_share'] * 100:.0f}% of its "
                     f"{face['frames']} frames", fontsize=9, loc="left")
        for snap in timeline.snapshots:
            if snap.get("face") == face_id and "t" in snap:
                ax.axvline(snap["t"], color="black", linewidth=1.2)
                ax.text(snap["t"], 1.02, f"P: {str(snap.get('playlist_mood', '?'))[:40]}", fontsize=7, ha="center",
                        transform=ax.get_xaxis_transform(), parse_math=False)  # text from a file: never mathtext
    axes[0].legend(loc="upper right", fontsize=7, ncol=len(classes), framealpha=0.8)
    ax = axes[-1]
    for face_id in faces:
        times, probs = timeline.faces[face_id].points(timeline.bin_seconds)
        ax.plot(times, valence(probs, classes), label=f"face #{face_id}")
    ax.axhline(0, color="grey", linewidth=0.6)
    for playlist in timeline.playlists:
        if "t" in playlist:
            ax.axvline(playlist["t"], color="green" if playlist.get("ok") else "red", linestyle="--", linewidth=1)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("valence")
    ax.set_xlabel("seconds")
    ax.set_title(f"valence = {' + '.join(c for c in POSITIVE if c in classes)} - "
                 f"{' - '.join(c for c in NEGATIVE if c in classes)}   (dashed: playlist made / failed)",
                 fontsize=9, loc="left")
    if faces:
        ax.legend(loc="upper right", fontsize=7)
    figure.suptitle(f"Emotion DJ mood report: {timeline.frames} frames, {timeline.duration:.1f} s", fontsize=11)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".html":
        import io

        svg = io.StringIO()
        figure.savefig(svg, format="svg")
        table = "".join(f"<tr><td>#{k}</td><td>{v['dominant']}</td><td>{v['dominant_share'] * 100:.0f}%</td>"
                        f"<td>{v['frames']}</td></tr>" for k, v in info.items())
        out.write_text(f"<!doctype html><meta charset='utf-8'><title>Emotion DJ mood report</title>{svg.getvalue()}"
                       f"<table><tr><th>face</th><th>dominant</th><th>share</th><th>frames</th></tr>{table}</table>")
    else:
        figure.savefig(out, dpi=100)
    plt.close(figure)
    return out


REPORT_SUFFIXES = (".png", ".svg", ".html")


def report_svg(events: Path) -> bytes | None:
    """The mood report of an events file being written (the live page's second page), as SVG; None before the
    first frame. The file is read as it is on disk (flushed every second; a torn last line is skipped)."""
    import tempfile

    try:
        timeline = read_events(Path(events))
    except UserError:
        return None
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.svg"
        draw(timeline, out)
        return out.read_bytes()


def write_report(events: Path, out: Path, json_path: Path | None = None) -> dict:
    guard_outputs({"events": events}, [Output("--out", out, "the mood report", REPORT_SUFFIXES),
                                       *([Output("--json", json_path, "the summary")] if json_path else [])])
    timeline = read_events(events)
    result = summary(timeline)
    try:
        draw(timeline, out)
        if json_path is not None:
            json_path.write_text(json.dumps(result, indent=2))
    except OSError as error:  # e.g. the disk filled up between the check and the write
        raise UserError(f"cannot write the mood report: {error.strerror or error}") from None
    return result


def main(argv: list[str]) -> int:
    from emotion_dj.core.cli import EXIT_OK, OneLineErrorParser, run_cli, say, setup_logging

    parser = OneLineErrorParser(prog="run_edge.py report", description="Draw the mood over time from an --events file.")
    parser.add_argument("events", type=Path, help="a file written by run_edge.py --events")
    parser.add_argument("--out", type=Path, default=Path("mood.png"), help="picture: .png, .svg or .html")
    parser.add_argument("--json", type=Path, help="also write the summary (dominant expression, shares) as JSON")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)

    def work() -> int:
        result = write_report(args.events, args.out, args.json)
        faces = ", ".join(f"#{k} {v['dominant']} {v['dominant_share'] * 100:.0f}%" for k, v in result["faces"].items())
        say(f"mood report {args.out}: {result['frames']} frames, {result['duration_s']:.1f} s; {faces or 'no faces'}")
        return EXIT_OK
    return run_cli(work, verbose=args.verbose)
