"""``unerkannt protect``: protected copies of photos, fail closed."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..names import display
from ..options import DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS
from ..results import FileResult
from . import EXIT_FAILED, EXIT_OK
from ._common import add_detection_arguments, options_from

WEAK_WARNING = (
    "warning: {method} is weaker than fill: the faces can be partly restored or matched by "
    "face-search engines that treat their gallery the same way. Use fill to publish."
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from ..anonymize import METHODS
    from ..engines import ENGINES
    from ..media import writable

    p: argparse.ArgumentParser = sub.add_parser(
        "protect",
        help="anonymize every face and strip metadata",
        description=(
            "Write a protected copy of each photo: every face filled, no metadata. A file that cannot be "
            "fully protected gets no output. Use ./NAME or -- before file names that start with '-'."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, or folders (searched recursively)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the protected copies")
    p.add_argument("--method", choices=list(METHODS), default="fill", help="how faces are hidden (default: fill)")
    p.add_argument(
        "--enlarge", type=float, default=1.3, metavar="F", help="grow face boxes by F to cover hair and chin (1.3)"
    )
    add_detection_arguments(p)
    p.add_argument("--no-verify", dest="verify", action="store_false", help="skip re-detecting on the protected pixels")
    p.add_argument(
        "--consent", metavar="REGISTRY", help="leave visible only faces both recognizers match to one enrolled person"
    )
    p.add_argument(
        "--audit", action="store_true", help="check outputs with both recognizers; refill or fail what still matches"
    )
    p.add_argument(
        "--format", choices=list(writable()), help="output format (default: the input's; JPEG for camera raw)"
    )
    p.add_argument("--quality", type=int, default=90, metavar="Q", help="quality of lossy formats, 1-100 (default: 90)")
    p.add_argument("--keep-icc", action="store_true", help="keep the ICC colour profile (no other metadata is kept)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N", help="refuse larger images")
    p.add_argument(
        "--max-frames",
        type=int,
        default=DEFAULT_MAX_FRAMES,
        metavar="N",
        help=f"refuse animations with more frames (default: {DEFAULT_MAX_FRAMES:,})",
    )
    p.add_argument("--keep-audio", action="store_true", help="videos: copy the audio unchanged (default: drop it)")
    p.add_argument("--crf", type=int, default=20, metavar="N", help="videos: quality, 0-51, lower is better (20)")
    p.add_argument(
        "--detect-every", type=int, default=0, metavar="K", help="videos: detect on every K-th frame, track between"
    )
    p.add_argument(
        "--fill-unchecked", action="store_true", help="videos: fill frames the detector failed on instead of failing"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--allow-inside-input", action="store_true", help="allow the output folder inside an input folder")
    p.add_argument(
        "--workers", type=int, default=0, metavar="N", help="processes or Ray actors (default: one per core)"
    )
    p.add_argument(
        "--engine",
        choices=list(ENGINES),
        default="local",
        help="local: a process pool here; ray: Ray actors (pip install 'unerkannt[ray]') (default: local)",
    )
    p.add_argument(
        "--ray-address", metavar="ADDR", help="with --engine ray: the Ray cluster (HOST:PORT or auto); default: local"
    )
    p.add_argument("--job", metavar="JOBFILE", help="record each file's state in JOBFILE (SQLite) to resume later")
    p.add_argument("--resume", action="store_true", help="continue the job in --job JOBFILE where it stopped")
    p.add_argument("--report", metavar="FILE", help="write a JSON report (faces, actions, warnings, errors)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the JSON report on standard output")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress bar, only errors and the summary")
    return p


def run(args: argparse.Namespace) -> int:
    from ..anonymize import get_method
    from ..batch import plan
    from ..batch import run as run_jobs
    from ..engines import check_engine

    options = options_from(
        args,
        method=args.method,
        enlarge=args.enlarge,
        verify=args.verify,
        format=args.format,
        quality=args.quality,
        keep_icc=args.keep_icc,
        max_pixels=args.max_pixels,
        max_frames=args.max_frames,
        keep_audio=args.keep_audio,
        crf=args.crf,
        detect_every=args.detect_every,
        fill_unchecked=args.fill_unchecked,
        consent=args.consent,
        audit=args.audit,
    )
    if args.workers < 0:
        raise UsageError("--workers must be 0 or more")
    if get_method(options.method).weak:
        print(WEAK_WARNING.format(method=options.method), file=sys.stderr)
    if args.resume and not args.job:
        raise UsageError("--resume needs --job JOBFILE")
    check_engine(args.engine, args.ray_address)
    if args.engine == "ray":
        from ..engines.ray import quiet

        quiet()
    bar: Any = None
    if not (args.quiet or args.json):
        from tqdm import tqdm

    def start_bar(total: int) -> None:
        nonlocal bar
        if not (args.quiet or args.json):
            bar = tqdm(total=total, unit="file", desc="protecting", file=sys.stderr, disable=None)

    if not args.job:
        jobs = plan(args.inputs, args.output, options=options, allow_inside_input=args.allow_inside_input)
        start_bar(len(jobs))

    def progress(result: FileResult) -> None:
        if bar is not None:
            bar.update(1)
        if not (result.ok or result.skipped or args.json):
            message = f"failed: {display(result.input)}: {display(result.error['message'] if result.error else '')}"
            if bar is not None:
                bar.write(message, file=sys.stderr)
            else:
                print(message, file=sys.stderr)

    frames: dict[str, Any] = {}

    def frame_progress(path: Path, done: int, total: int) -> None:
        if bar is None:
            return
        if frames.get("path") != path:
            if frames.get("bar") is not None:
                frames["bar"].close()
            frames["path"] = path
            frames["bar"] = tqdm(
                total=total or None, unit="frame", desc=display(path.name), file=sys.stderr, leave=False
            )
        frames["bar"].update(done - frames["bar"].n)

    if args.job:
        from ..jobs import run_job

        report = run_job(
            args.inputs,
            args.output,
            args.job,
            resume=args.resume,
            options=options,
            workers=args.workers,
            overwrite=args.overwrite,
            allow_inside_input=args.allow_inside_input,
            progress=progress,
            planned=start_bar,
            frame_progress=frame_progress,
            engine=args.engine,
            ray_address=args.ray_address,
        )
    else:
        report = run_jobs(
            jobs,
            options=options,
            workers=args.workers,
            overwrite=args.overwrite,
            progress=progress,
            frame_progress=frame_progress,
            engine=args.engine,
            ray_address=args.ray_address,
        )
    if frames.get("bar") is not None:
        frames["bar"].close()
    if bar is not None:
        bar.close()
    data = report.to_json()
    if args.report:
        from ..media import write_atomic

        write_atomic(json.dumps(data, indent=2).encode(), Path(args.report), overwrite=True)
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        print()
    s = report.summary()
    print(
        f"unerkannt: protected {s['protected']} of {s['files'] - s['skipped']} file(s), {s['faces']} face(s) hidden"
        + (f"; {s['failed']} failed, no output written for them" if s["failed"] else "")
        + (f"; {s['skipped']} skipped (not a photo or video, or hidden)" if s["skipped"] else ""),
        file=sys.stderr,
    )
    if args.job:
        from ..jobs import status

        counts = status(args.job)["counts"]
        print(
            f"unerkannt: job {display(args.job)}: {counts['done']} done, {counts['failed']} failed, "
            + (f"{counts['skipped']} skipped, " if counts["skipped"] else "")
            + f"{counts['pending']} pending of {counts['files']} file(s)",
            file=sys.stderr,
        )
        return EXIT_OK if counts["done"] + counts["skipped"] == counts["files"] else EXIT_FAILED
    return EXIT_OK if report.ok else EXIT_FAILED
