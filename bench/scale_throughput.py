#!/usr/bin/env python3
"""Throughput of the local engine and the Ray engine with 1 and 2 workers.

Replicates the detection kit's images (hard links, distinct names) to ``--copies``
files, then protects that folder once per configuration (``local`` and ``ray``, each
with 1 and 2 workers by default), each on a fresh output folder and in a fresh Python
process, through the Python API (:func:`unerkannt.protect_files`). Every worker runs one
inference thread (``--threads 1``): a worker is one core on both engines, which is what
the per-worker figures and the cluster projection need (the CLI's single local worker
would otherwise use one thread per core). It prints one markdown block: machine, date,
versions and a table of

* **wall s** and **images/s (wall)**: from the call to the last file, so process pool
  or Ray start (``ray.init``, actor start), model loading and the first file included;
* **startup s**: from the call until the first file finished;
* **images/s (steady)**: the files after the first tenth over the time from the tenth to
  the last file (no start-up), and that **per worker**;
* **Ray overhead**: how much slower Ray is than the local engine with as many workers,
  for the wall and the steady rate.

Below the table it derives, from the measured per-worker steady rate and the 1 to 2
worker scaling, what a cluster of N machines would reach.

Usage (from the repository root, with the project venv and ``unerkannt[ray]``)::

    python bench/scale_throughput.py                         # 2,000 files, all four runs
    python bench/scale_throughput.py --copies 120            # smoke run
    python bench/scale_throughput.py --runs ray:2 local:2 --profile fast
    python bench/scale_throughput.py --markdown-out /tmp/scale.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

KIT = Path(__file__).resolve().parents[2] / "shared" / "bench" / "detect" / "images"
RUNS = ("local:1", "local:2", "ray:1", "ray:2")


def replicate(kit: Path, folder: Path, copies: int) -> int:
    """``copies`` files in ``folder``, cycling through the kit's JPEGs; returns the count."""
    images = sorted(kit.glob("*.jpg"))
    if not images:
        raise SystemExit(f"no JPEG images in {kit}")
    folder.mkdir(parents=True)
    for i in range(copies):
        source = images[i % len(images)]
        target = folder / f"{i:06d}_{source.name}"
        try:
            os.link(source, target)
        except OSError:  # another file system
            shutil.copyfile(source, target)
    return copies


def child(args: argparse.Namespace) -> None:
    """One timed run in this process; prints its figures as JSON."""
    import unerkannt
    from unerkannt import ProtectOptions

    finished: list[float] = []
    start = time.perf_counter()
    report = unerkannt.protect_files(
        [args.input],
        args.output,
        options=ProtectOptions(profile=args.profile, threads=args.threads),
        workers=args.workers,
        engine=args.engine,
        progress=lambda _result: finished.append(time.perf_counter()),
    )
    wall = time.perf_counter() - start
    summary = report.summary()
    # Steady state: from the moment a tenth of the files were done (Ray start, actor start,
    # model loading and Ray's first, bunched deliveries are behind) to the last file.
    skip = len(finished) // 10
    span = finished[-1] - finished[skip] if finished else 0.0
    steady = (len(finished) - 1 - skip) / span if span > 0 else float("nan")
    print(
        json.dumps(
            {
                "files": summary["files"],
                "protected": summary["protected"],
                "faces": summary["faces"],
                "wall_s": wall,
                "startup_s": finished[0] - start if finished else float("nan"),
                "steady_images_per_s": steady,
            }
        )
    )


def run_one(spec: str, src: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    engine, workers = spec.split(":")
    out = work / f"out-{engine}-{workers}"
    cmd = [sys.executable, __file__, "--child", "--input", str(src), "--output", str(out)]
    cmd += ["--engine", engine, "--workers", workers, "--profile", args.profile, "--threads", str(args.threads)]
    print(f"running {spec} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    shutil.rmtree(out, ignore_errors=True)
    if proc.returncode != 0:
        return {"engine": engine, "workers": int(workers), "error": proc.stderr.strip().splitlines()[-1:]}
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    figures.update(engine=engine, workers=int(workers))
    return figures


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"Python {platform.python_version()}"]
    for name in ("unerkannt", "ray", "onnxruntime"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} (not installed)")
    return ", ".join(parts)


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace, load: tuple[float, float, float]) -> str:
    local = {r["workers"]: r for r in rows if r["engine"] == "local" and "error" not in r}
    threads = (
        f"{args.threads} inference thread(s) per worker"
        if args.threads
        else "the CLI's inference threads (one per core for a single local worker, else one per worker)"
    )
    lines = [
        f"### Engines: local and Ray ({dt.date.today().isoformat()})",
        "",
        f"{args.copies} files (the kit's {args.kit_size} JPEGs replicated), profile `{args.profile}`; "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), load average before "
        f"{load[0]:.2f}; {_versions()}. Each run in a fresh process on a fresh output folder, through "
        f"`unerkannt.protect_files`, {threads}; Ray on a private local instance it starts (`ray.init` "
        "included in wall).",
        "",
        "| engine | workers | files | wall s | images/s (wall) | startup s | images/s (steady) "
        "| per worker (steady) | Ray overhead (wall) | Ray overhead (steady) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['engine']} | {r['workers']} | failed: {' '.join(r['error'])} |||||||| ")
            continue
        wall_rate = r["files"] / r["wall_s"]
        steady = r["steady_images_per_s"]
        base = local.get(r["workers"])
        if r["engine"] == "ray" and base is not None:
            over_wall = f"{r['wall_s'] / base['wall_s'] - 1:+.1%}"
            over_steady = f"{base['steady_images_per_s'] / steady - 1:+.1%}"
        else:
            over_wall = over_steady = "–"
        lines.append(
            f"| {r['engine']} | {r['workers']} | {r['files']} | {r['wall_s']:.1f} | {wall_rate:.2f} "
            f"| {r['startup_s']:.1f} | {steady:.2f} | {steady / r['workers']:.2f} | {over_wall} | {over_steady} |"
        )
    lines += ["", *projection(rows, args.kit_kb)]
    return "\n".join(lines) + "\n"


def projection(rows: list[dict[str, Any]], kb_per_image: float) -> list[str]:
    """What N machines would reach, from the measured Ray figures."""
    ray = {r["workers"]: r for r in rows if r["engine"] == "ray" and "error" not in r}
    if 1 not in ray or 2 not in ray:
        return ["(no projection: it needs the ray:1 and ray:2 runs)"]
    one = ray[1]["steady_images_per_s"]
    two = ray[2]["steady_images_per_s"]
    efficiency = two / (2 * one)
    startup = ray[2]["startup_s"]
    return [
        f"Scaling: one Ray worker protects {one:.2f} images/s in steady state, two on this machine "
        f"{two:.2f} ({efficiency:.0%} of twice one; the two workers share this machine's cores, memory "
        "bandwidth and caches). Workers do not talk to each other: each reads its file, protects it and "
        "writes it, and sends the driver a result of about a kilobyte. So a cluster of N such machines with "
        f"c cores each should reach about N x c x {one:.2f} x {efficiency:.2f} images/s "
        f"(N = 10, c = 2: {10 * 2 * one * efficiency:.0f} images/s), until the shared file system (about "
        f"{kb_per_image:.0f} kB read and as much written per image here) or the driver (Ray Data hands "
        "actors blocks of 4 files, a few milliseconds of driver time each) limits it. "
        f"Start-up ({startup:.0f} s here: Ray, actors, models) is paid once per run, so it matters only for "
        "small batches.",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=2000, help="files to protect (default: 2000)")
    parser.add_argument("--kit", type=Path, default=KIT, help="folder of JPEGs to replicate (default: %(default)s)")
    parser.add_argument("--profile", default="default", help="detection profile (default: default)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="inference threads per worker (default: 1, so that a worker is one core on both engines; "
        "0 is the CLI's choice: one per core for a single local worker, one for pool workers and actors)",
    )
    parser.add_argument(
        "--runs", nargs="+", default=list(RUNS), metavar="ENGINE:WORKERS", help="default: " + " ".join(RUNS)
    )
    parser.add_argument("--markdown-out", type=Path, metavar="FILE", help="also write the markdown block to FILE")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="local", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return
    from unerkannt.engines import ENGINES

    for spec in args.runs:
        engine, _, workers = spec.partition(":")
        if engine not in ENGINES or not workers.isdigit() or int(workers) < 1:
            parser.error(f"--runs takes ENGINE:WORKERS such as ray:2, not {spec!r}")
    kit = list(args.kit.glob("*.jpg"))
    args.kit_size = len(kit)
    args.kit_kb = sum(p.stat().st_size for p in kit) / max(1, len(kit)) / 1000
    load = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="unerkannt-scale-"))
    try:
        replicate(args.kit, work / "in", args.copies)
        rows = [run_one(spec, work / "in", work, args) for spec in args.runs]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = markdown(rows, args, load)
    print(text)
    if args.markdown_out:
        args.markdown_out.write_text(text)


if __name__ == "__main__":
    main()
