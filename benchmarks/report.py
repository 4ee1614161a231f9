"""Tables and a chart from the benchmark results of this machine.

    python -m benchmarks.report [--engines JSON] [--pipeline JSON] [--run]

Reads benchmarks/results/<machine>-engines.json and -pipeline.json (with --run, or where they are
missing, it runs both benchmarks first) and writes benchmarks/results/<machine>.json, .md and .png.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.machine import RESULTS, describe  # noqa: E402


def engine_table(engines: dict) -> list[str]:
    batches = engines["batches"]
    head = ["engine", "precision", "runs on", "p50 ms (b1)", "p95 ms (b1)", *[f"faces/s b{b}" for b in batches], "PrivateTest acc"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    reasons: dict[str, list[str]] = {}
    for row in engines["results"]:
        if row["status"] != "measured":
            why = row["status"].removeprefix("not measured: ")
            reasons.setdefault(why, []).append(f"{row['engine']} {row['precision']} {row['device']}")
            lines.append(f"| {row['engine']} | {row['precision']} | {row['device']}: not measured here [{list(reasons).index(why) + 1}] |"
                         + " |" * (len(head) - 3))
            continue
        acc = row.get("accuracy_private_test")
        cells = [row["engine"], row["precision"], row["runs_on"], f"{row['latency_ms_p50']:.3f}", f"{row['latency_ms_p95']:.3f}",
                 *[f"{row['throughput_faces_per_s'][str(b)]:,.0f}" for b in batches], f"{acc * 100:.2f}%" if acc is not None else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"[{i}] {why} ({', '.join(variants)})" for i, (why, variants) in enumerate(reasons.items(), 1)]
    return lines


def pipeline_table(pipeline: dict) -> list[str]:
    results = pipeline["results"]
    stages = ("decode", "detect", "infer", "track", "render")
    head = ["loop", "FPS (median)", "runs", "engine", "detector", *[f"{s} ms p50" for s in stages]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in ("threaded", "sequential", "prototype"):
        r = results[name]
        cells = [name, f"{r['fps_median']:.1f}", ", ".join(map(str, r["fps_runs"])), r["engine"], r["detector"],
                 *[f"{r['stages'][s]['p50_ms']:.2f}" if r["stages"][s]["count"] else "-" for s in stages]]
        lines.append("| " + " | ".join(cells) + " |")
    b = results["threaded"].get("bottleneck")
    lines += ["", f"Threaded pipeline: {results['speedup_vs_prototype']}x the prototype-style loop and "
                  f"{results['speedup_vs_sequential']}x the sequential loop on the same {pipeline['clip']['frames']} frames."]
    if b:
        lines.append(f"Slowest stage: {b['stage']} at {b['p50_ms']:.2f} ms p50, which alone bounds the pipeline at "
                     f"{b['bound_fps']:.0f} FPS; measured {results['threaded']['fps_median']:.0f} FPS = "
                     f"{results['threaded']['fps_median'] / b['bound_fps'] * 100:.0f}% of that bound.")
    return lines


def input_size_table(sizes: dict) -> list[str]:
    lines = ["| input | params | conv MACs | ONNX Runtime p50 ms (b1) | p95 ms |", "|---|---|---|---|---|"]
    for r in sizes["results"]:
        lines.append(f"| {r['input_size']}x{r['input_size']} | {r['params']:,} | {r['conv_macs'] / 1e6:.0f} M | "
                     f"{r['latency_ms_p50']:.3f} | {r['latency_ms_p95']:.3f} |")
    return lines


def chart(engines: dict | None, pipelines: list[dict], path: Path, title: str) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    if engines:
        measured = [r for r in engines["results"] if r["status"] == "measured"]
        labels = [f"{r['engine']} {r['precision']}\n{r['device']}" for r in measured]
        values = [r["throughput_faces_per_s"]["64"] for r in measured]
        axes[0].barh(labels, values, color="tab:blue")
        axes[0].set(title="model throughput, batch 64 (faces/s)", xscale="log")
        for y, v in enumerate(values):
            axes[0].text(v, y, f" {v:,.0f}", va="center", fontsize=8)
    if pipelines:
        names, values, colors = [], [], []
        for p in pipelines:  # one threaded bar per run (engine/precision), the baselines once
            r = p["results"]["threaded"]
            names.append("threaded\n" + " ".join(r["engine"].split()[:2]))
            values.append(r["fps_median"])
            colors.append("tab:green")
        for n, c in (("sequential", "tab:orange"), ("prototype", "tab:red")):
            r = pipelines[0]["results"][n]
            names.append(f"{n}\n" + " ".join(r["engine"].split()[:2]))
            values.append(r["fps_median"])
            colors.append(c)
        axes[1].bar(names, values, color=colors)
        axes[1].axhline(27, color="gray", ls="--", label="original prototype on a GPU (~27 FPS)")
        axes[1].set(title="end-to-end FPS, 640x480 clip, every frame")
        axes[1].legend(loc="upper right", fontsize=8)
        for x, v in enumerate(values):
            axes[1].text(x, v, f"{v:.0f}", ha="center", va="bottom")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.splitlines()[0])
    parser.add_argument("--engines", type=Path)
    parser.add_argument("--pipeline", type=Path, nargs="*", help="one or more pipeline results (default: <machine>-pipeline*.json)")
    parser.add_argument("--run", action="store_true", help="run both benchmarks first")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    machine = describe()
    engines_path = args.engines or RESULTS / f"{machine['name']}-engines.json"
    pipeline_paths = args.pipeline or sorted([*RESULTS.glob(f"{machine['name']}-pipeline.json"),
                                              *RESULTS.glob(f"{machine['name']}-pipeline-*.json")])
    if args.run or not engines_path.is_file():
        from benchmarks.engines import main as engines_main

        engines_main(["--json", str(engines_path)])
    if args.run or not pipeline_paths:
        from benchmarks.pipeline import main as pipeline_main

        pipeline_paths = [RESULTS / f"{machine['name']}-pipeline.json"]
        pipeline_main(["--json", str(pipeline_paths[0])])
    engines = json.loads(engines_path.read_text())
    pipelines = [json.loads(path.read_text()) for path in pipeline_paths]
    sizes_path = engines_path.with_name(engines_path.name.replace("-engines.json", "-input_size.json"))
    sizes = json.loads(sizes_path.read_text()) if sizes_path != engines_path and sizes_path.is_file() else None
    measured_on = engines["machine"]
    name = measured_on["name"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps({"machine": measured_on, "engines": engines, "pipelines": pipelines,
                                                        "input_size": sizes}, indent=2))
    who = (f"{measured_on['gpu'] + ' + ' if measured_on['gpu'] else ''}{measured_on['cpu']} ({measured_on['cores']} cores), "
           f"measured {measured_on['date']}; " + ", ".join(f"{k} {v}" for k, v in measured_on["versions"].items()))
    md = [f"# Benchmarks: {name}", "", who, "", "## Engines (model only)", "", *engine_table(engines), "",
          *(["## Input size (architecture only, random weights)", "", *input_size_table(sizes), ""] if sizes else []),
          "## Pipeline (end to end, headless, every frame)", "",
          *[line for p in pipelines for line in [f"### threaded engine: {p['results']['threaded']['engine']}", "",
                                                  *pipeline_table(p), ""]],
          f"![chart]({name}.png)", ""]
    (args.out / f"{name}.md").write_text("\n".join(md))
    chart(engines, pipelines, args.out / f"{name}.png", who[:160])
    print(f"wrote {args.out / name}.json, .md, .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
