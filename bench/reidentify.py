#!/usr/bin/env python3
"""Re-identification after protection, and the consent rule, on the LFW identity kit.

For each protection method and strength, a protected photo of each probe person is
searched (1:N) in a gallery holding another photo of that person and one photo of each
distractor person; rank-1 rate, and verification against the person's other photo at
each recognizer's own threshold. Both recognizers (SFace, dlib ResNet). The attacker
knows where the face was: the probe is embedded at the clean photo's landmarks.

* ``clean``: no protection (baseline); chance is 1 / gallery size.
* ``naive`` attacker: clean gallery. ``adaptive`` attacker: the gallery photos are
  protected with the same method before matching.
* ``--draws N``: natural and synthetic choose at random for each face (the grain, the grey,
  the face drawn), and a count of one or two people at rank 1 moves with those choices.
  With N > 1 they are protected N times with independent choices (after the first, each
  face gets an identity, as a video's track does), and the table gives the mean of the
  draws and each draw's count.
* Consent: true- and false-accept rates of unerkannt's consent rule (``unerkannt.consent``:
  both recognizers, plus the face-quality gate) on ``pairs.txt``. The rule is calibrated on
  other people by ``bench/calibrate_consent.py``, which also tests it.

Faces are found with ``protect``'s default detector and profile (CenterFace at 0.06);
every face found is protected with the method (no verification pass). The probe's face
position comes from YuNet's most central face at 0.5 on the clean photo (CenterFace's
when YuNet finds none). Photos where no face is found at all are left out and counted.

Usage (repository root, venv active)::

    python bench/reidentify.py                                  # full kit (slow: hours on 2 cores)
    python bench/reidentify.py --probes 250 --distractors 350 --pairs 400 --markdown-out /tmp/r.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pickle
import platform
import random
import sys
import time
import zlib
from collections.abc import Callable
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KIT = REPO_ROOT.parent / "shared" / "bench" / "identity"


def _blur(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda r: cv2.GaussianBlur(r, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)


def _pixelate(blocks: int) -> Callable[[np.ndarray], np.ndarray]:
    def apply(r: np.ndarray) -> np.ndarray:
        h, w = r.shape[:2]
        small = cv2.resize(r, (max(1, min(blocks, w)), max(1, min(blocks, h))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)

    return apply


def _deface_blur(r: np.ndarray) -> np.ndarray:
    # deface 1.5.0's default: a box blur with a kernel of a third of the face box
    h, w = r.shape[:2]
    return cv2.blur(r, (max(1, w // 3), max(1, h // 3)))


#: name -> (description, replacement of the enlarged face region or None for fill/text)
METHODS: dict[str, str] = {
    "clean": "no protection (baseline)",
    "fill": "fill (unerkannt default)",
    "natural": "natural (rebuilt from the surroundings)",
    "synthetic": "synthetic (a face of no one)",
    "blur": "blur (unerkannt --method blur, sigma 0.15 x the region's height)",
    "pixelate-16": "pixelate, 16 x 16 blocks",
    "pixelate-8": "pixelate, 8 x 8 blocks (unerkannt --method pixelate)",
    "pixelate-4": "pixelate, 4 x 4 blocks",
    "blur-3": "Gaussian blur, sigma 3 px",
    "blur-8": "Gaussian blur, sigma 8 px",
    "blur-deface": "box blur, kernel 1/3 of the face (deface's default style)",
    "text": "text written across the face",
}

_REGION_FN: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "pixelate-16": _pixelate(16),
    "pixelate-8": _pixelate(8),
    "pixelate-4": _pixelate(4),
    "blur-3": _blur(3),
    "blur-8": _blur(8),
    "blur-deface": _deface_blur,
}

_STATE: dict[str, Any] = {}


def _init() -> None:
    cv2.setNumThreads(1)
    from unerkannt import ProtectOptions
    from unerkannt.detect import load_detector
    from unerkannt.pipeline import build_detector
    from unerkannt.recognize import load_recognizer

    _STATE["options"] = ProtectOptions()
    _STATE["detector"] = build_detector(_STATE["options"])
    _STATE["yunet"] = load_detector("yunet", threshold=0.5, scales=(1.0,))
    _STATE["recognizers"] = [load_recognizer("sface"), load_recognizer("dlib")]


def _central(faces: list[Any], width: int, height: int) -> Any:
    cx, cy = width / 2, height / 2
    return min(faces, key=lambda f: ((f.box[0] + f.box[2]) / 2 - cx) ** 2 + ((f.box[1] + f.box[3]) / 2 - cy) ** 2)


#: Methods run as unerkannt's own, on every face found at once (as ``protect`` calls them).
_OWN = ("fill", "natural", "synthetic", "blur")


#: Methods whose random choices (``natural.seed``) can be drawn again: ``--draws``.
_RANDOM = ("natural", "synthetic")


def _variant(method: str, draw: int) -> str:
    """The name a method's ``draw`` (0: the method's own) is kept under."""
    return method if draw == 0 else f"{method}~{draw}"


def _protect(image: np.ndarray, faces: list[Any], method: str, enlarge: float, draw: str = "") -> np.ndarray:
    """``image`` with every face protected by ``method``.

    A non-empty ``draw`` (one per photo and draw) gives each face its own ``identity``, as a
    video's track does: another, independent set of the method's random choices.
    """
    from unerkannt.anonymize import get_method
    from unerkannt.anonymize.base import Target, ellipse_mask, enlarge_box

    out = image.copy()
    if method in _OWN:
        targets = [
            Target.of(f, identity=zlib.crc32(f"{draw}:{i}".encode()) if draw else None) for i, f in enumerate(faces)
        ]
        get_method(method).apply_all(out, targets, enlarge=enlarge)
        return out
    height, width = image.shape[:2]
    for f in faces:
        if method == "text":
            x1, y1, x2, y2 = (int(v) for v in f.box)
            w = max(x2 - x1, 8)
            scale = w / 140.0
            thick = max(1, w // 14)
            org = (x1 - w // 20, int(y1 + 0.55 * (y2 - y1)))
            cv2.putText(out, "PRIVATE", org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
            cv2.putText(out, "PRIVATE", org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
            continue
        x1, y1, x2, y2 = enlarge_box(f.box, enlarge, width, height)
        region = out[y1:y2, x1:x2]
        mask = ellipse_mask(x2 - x1, y2 - y1)
        region[mask] = _REGION_FN[method](region)[mask]
    return out


def _probe_face(image: np.ndarray) -> tuple[list[Any], Any]:
    """protect's faces, and the probe face: YuNet's most central (CenterFace's without one)."""
    height, width = image.shape[:2]
    faces = _STATE["detector"].detect(image)
    marks = _STATE["yunet"].detect(image) or faces
    return faces, (_central(marks, width, height) if marks else None)


def _face_record(face: Any) -> dict[str, Any]:
    return {"box": face.box, "score": face.score, "detector": face.detector, "landmarks": face.landmarks}


def _face_file(path: str) -> tuple[str, dict[str, Any] | None]:
    """The probe face of one photo (for caches written before faces were kept)."""
    _, face = _probe_face(np.asarray(Image.open(path).convert("RGB")))
    return path, None if face is None else _face_record(face)


def _embed_file(job: tuple[str, tuple[str, ...]]) -> tuple[str, dict[str, Any] | None]:
    """All variants of one photo -> {"variants": {method: {recognizer: vector}}, "face": {box, landmarks, ...}}.

    Only the given methods are computed: a cached photo gets just the variants it lacks.
    """
    path, methods = job
    image = np.asarray(Image.open(path).convert("RGB"))
    faces, face = _probe_face(image)
    if face is None:
        return path, None
    out: dict[str, Any] = {"face": _face_record(face), "variants": {}}
    for variant in methods:
        method, _, draw = variant.partition("~")
        pixels = (
            image
            if method == "clean"
            else _protect(image, faces, method, _STATE["options"].enlarge, f"{Path(path).name}:{draw}" if draw else "")
        )
        out["variants"][variant] = {r.name: r.embed(pixels, face) for r in _STATE["recognizers"]}
    return path, out


def _save(cache: Path | None, results: dict[str, Any]) -> None:
    if cache is not None:
        tmp = cache.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            pickle.dump(results, out)
        os.replace(tmp, cache)


def _people(kit: Path) -> dict[str, list[Path]]:
    people = {}
    for folder in sorted((kit / "lfw").iterdir()):
        if folder.is_dir():
            files = sorted(folder.glob("*.jpg"))
            if files:
                people[folder.name] = files
    return people


def _pairs(kit: Path, people: dict[str, list[Path]]) -> list[tuple[Path, Path, bool]]:
    def photo(name: str, n: str) -> Path:
        return kit / "lfw" / name / f"{name}_{int(n):04d}.jpg"

    pairs = []
    for line in (kit / "pairs.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            pairs.append((photo(parts[0], parts[1]), photo(parts[0], parts[2]), True))
        elif len(parts) == 4:
            pairs.append((photo(parts[0], parts[1]), photo(parts[2], parts[3]), False))
    return [p for p in pairs if p[0].is_file() and p[1].is_file()]


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _rendered_faces_of_no_one() -> list[tuple[np.ndarray, Any]]:
    """Each face of the synthetic model alone, twice its size, on a grey 250 x 250 photo, with its face."""
    from unerkannt.anonymize.faces_of_no_one import CANVAS_BOX, LANDMARKS, face_alpha, model_faces
    from unerkannt.faces import Face

    scale, size = 2.0, 250
    out = []
    for face in model_faces():
        h, w = face.shape[0] * int(scale), face.shape[1] * int(scale)
        big = cv2.resize(face, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        alpha = cv2.resize(face_alpha(), (w, h), interpolation=cv2.INTER_LINEAR)[:, :, None]
        photo = np.full((size, size, 3), 128.0, np.float32)
        x0, y0 = (size - w) // 2, (size - h) // 2
        photo[y0 : y0 + h, x0 : x0 + w] = alpha * big + (1 - alpha) * photo[y0 : y0 + h, x0 : x0 + w]
        box = tuple(float(v * scale + (x0 if i % 2 == 0 else y0)) for i, v in enumerate(CANVAS_BOX))
        marks = tuple((x * scale + x0, y * scale + y0) for x, y in LANDMARKS)
        out.append((photo.round().astype(np.uint8), Face(box=box, score=1.0, detector="model", landmarks=marks)))
    return out


def _no_one(
    results: dict[str, Any],
    people: dict[str, list[Path]],
    probe_ok: list[str],
    gallery_files: list[str],
    recs: list[Any],
) -> list[str]:
    """How close any synthetic face comes to any person of the run, against chance (clean impostors)."""
    rendered = _rendered_faces_of_no_one()
    protected = sorted(f for f, r in results.items() if r is not None and "synthetic" in r["variants"])
    probes = [str(people[n][0]) for n in probe_ok]
    n = len(probe_ok)
    lines = [
        "",
        f"Faces of no one against every person of the run ({len(gallery_files)} people, one clean photo each): "
        f"the {len(rendered)} faces of the model alone (each on a grey photo, twice its size) and the "
        f"{len(protected)} photos protected with `synthetic`, against the closest clean photo of another person "
        "(chance: each clean probe against everyone else in the gallery).",
        "",
        "| recognizer | faces of no one: closest | protected photos: closest | protected photos past threshold "
        "| protected: median of each photo's closest | chance: closest | chance: probes past threshold "
        "| chance: median of each probe's closest |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in recs:
        gallery = np.stack([results[f]["variants"]["clean"][r.name] for f in gallery_files])
        alone = np.stack([r.embed(photo, face) for photo, face in rendered])
        drawn = np.stack([results[f]["variants"]["synthetic"][r.name] for f in protected])
        clean = np.stack([results[f]["variants"]["clean"][r.name] for f in probes])
        impostor = r.closer(r.similarity_matrix(clean, gallery))
        impostor[np.arange(n), np.arange(n)] = -np.inf  # a probe's mate is the person, not chance
        sign = 1.0 if r.metric == "cosine" else -1.0
        best_alone = sign * r.closer(r.similarity_matrix(alone, gallery)).max()
        per_photo = r.closer(r.similarity_matrix(drawn, gallery)).max(axis=1)
        past = int(sum(r.matches(sign * float(x)) for x in per_photo))
        chance = impostor.max(axis=1)
        chance_past = int(sum(r.matches(sign * float(x)) for x in chance))
        share = f"{_pct(chance_past / len(chance))} ({chance_past}/{len(chance)})"
        lines.append(
            f"| {r.name} ({r.metric}, match {'>=' if sign > 0 else '<'} {r.threshold}) | {best_alone:.3f} "
            f"| {sign * per_photo.max():.3f} | {_pct(past / len(protected))} ({past}/{len(protected)}) "
            f"| {sign * float(np.median(per_photo)):.3f} | {sign * chance.max():.3f} "
            f"| {share} | {sign * float(np.median(chance)):.3f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kit", type=Path, default=DEFAULT_KIT)
    ap.add_argument("--probes", type=int, default=0, help="probe people (with >= 2 photos); 0: all")
    ap.add_argument("--distractors", type=int, default=0, help="distractor people; 0: all others")
    ap.add_argument("--pairs", type=int, default=0, help="same-person and different-person pairs each; 0: all")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of: " + ", ".join(METHODS))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown-out", type=Path)
    ap.add_argument("--cache", type=Path, help="reuse (or save) the templates of a run with the same sample")
    ap.add_argument(
        "--draws",
        type=int,
        default=1,
        help="protect with natural and synthetic this many times, with independent random choices, "
        "and report the mean of the draws (a count of a few people moves with the draw)",
    )
    args = ap.parse_args(argv)
    methods = tuple(m.strip() for m in args.methods.split(","))
    if "clean" not in methods:
        methods = ("clean", *methods)
    draws = {m: max(1, args.draws) if m in _RANDOM else 1 for m in methods}
    variants = tuple(_variant(m, d) for m in methods for d in range(draws[m]))
    start = time.time()
    rng = random.Random(args.seed)
    people = _people(args.kit)
    multi = [n for n, f in people.items() if len(f) >= 2]
    probes = sorted(rng.sample(multi, args.probes) if 0 < args.probes < len(multi) else multi)
    others = [n for n in people if n not in set(probes)]
    distractors = sorted(rng.sample(others, args.distractors) if 0 < args.distractors < len(others) else others)
    pairs = _pairs(args.kit, people)
    if args.pairs:
        same = [p for p in pairs if p[2]]
        diff = [p for p in pairs if not p[2]]
        pairs = rng.sample(same, min(args.pairs, len(same))) + rng.sample(diff, min(args.pairs, len(diff)))

    jobs: dict[str, tuple[str, ...]] = {}
    for name in probes:
        jobs[str(people[name][0])] = variants  # the probe
        jobs[str(people[name][1])] = variants  # its mate in the gallery (adaptive: protected too)
    for name in distractors:
        jobs[str(people[name][0])] = variants
    for a, b, _ in pairs:
        jobs.setdefault(str(a), ("clean",))
        jobs.setdefault(str(b), ("clean",))
    print(f"{len(jobs)} photos, {len(variants)} variants at most each, {args.workers} workers", file=sys.stderr)
    results: dict[str, Any] = {}
    if args.cache and args.cache.is_file():
        with open(args.cache, "rb") as cached:
            results = pickle.load(cached)
        missing = {}
        for p, m in jobs.items():
            if p not in results:
                missing[p] = m
            elif results[p] is not None:
                lacking = tuple(x for x in m if x not in results[p]["variants"])
                if lacking:
                    missing[p] = lacking
        jobs = missing
    ctx = get_context("fork")
    with ctx.Pool(args.workers, initializer=_init) as pool:
        for i, (path, out) in enumerate(pool.imap_unordered(_embed_file, sorted(jobs.items()), chunksize=4), 1):
            if results.get(path) is not None and out is not None:
                results[path]["variants"].update(out["variants"])
            else:
                results[path] = out
            if i % 100 == 0:
                print(f"  {i}/{len(jobs)} in {time.time() - start:.0f}s", file=sys.stderr)
                _save(args.cache, results)
        # the quality gate of the consent rule needs the face; older caches kept only a flag
        old = sorted(p for p, r in results.items() if r is not None and "face" not in r)
        for path, face in pool.imap_unordered(_face_file, old, chunksize=8):
            results[path]["face"] = face
    _save(args.cache, results)
    no_face = sorted(p for p, r in results.items() if r is None)

    from unerkannt.consent import accepted, matchable
    from unerkannt.faces import Face
    from unerkannt.recognize import load_recognizer

    recs = [load_recognizer("sface"), load_recognizer("dlib")]
    probe_ok = [n for n in probes if results[str(people[n][0])] and results[str(people[n][1])]]
    gallery_names = probe_ok + [n for n in distractors if results[str(people[n][0])]]
    gallery_files = [str(people[n][1]) for n in probe_ok] + [str(people[n][0]) for n in gallery_names[len(probe_ok) :]]
    gallery_size = len(gallery_files)
    lines = []
    lines.append(f"Run {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} on {platform.node() or 'this machine'}")
    lines.append(f"({os.cpu_count()} cores), {time.time() - start:.0f} s. Command:")
    lines.append("")
    lines.append("    python bench/reidentify.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    lines.append("")
    lines.append(
        f"Probes: {len(probe_ok)} people; gallery: {gallery_size} photos ({len(probe_ok)} mates + "
        f"{gallery_size - len(probe_ok)} distractors); chance rank-1 = {_pct(1 / gallery_size)} "
        f"(1/{gallery_size}); chance of the mate among the first 10: {10 * len(probe_ok) / gallery_size:.1f} "
        f"of {len(probe_ok)} probes. Photos without any face found: {len(no_face)} (left out)."
    )
    lines.append("")
    header = (
        "| method | attacker | "
        + " | ".join(f"{r.name} rank-1 | {r.name} in the first 10 | {r.name} verif." for r in recs)
        + " |"
    )
    lines.append(header)
    lines.append("|---|---|" + "---:|---:|---:|" * len(recs))
    n = len(probe_ok)
    for method in methods:
        for attacker in ("naive", "adaptive") if method != "clean" else ("-",):
            cells = []
            for r in recs:
                hits, first10, verif = [], [], []
                for draw in range(draws[method]):
                    variant = _variant(method, draw)
                    gal_variant = variant if attacker == "adaptive" else "clean"
                    q = np.stack([results[str(people[p][0])]["variants"][variant][r.name] for p in probe_ok])
                    g = np.stack([results[f]["variants"][gal_variant][r.name] for f in gallery_files])
                    raw = r.similarity_matrix(q, g)
                    sim = r.closer(raw)
                    truth = sim[np.arange(n), np.arange(n)]
                    # ties count against the true person: rank 1 means strictly closest
                    others = sim.copy()
                    others[np.arange(n), np.arange(n)] = -np.inf
                    # against a protected gallery every two filled faces look alike, so a
                    # match with the mate says nothing about identity: rank-1 is the measure
                    hits.append(int((truth > others.max(axis=1)).sum()))
                    # how many probes find their mate among the first 10 (ties against): a few
                    # rank-1 hits move by chance, this shows the trend (chance: 10 / gallery)
                    first10.append(int(((others >= truth[:, None]).sum(axis=1) < 10).sum()))
                    verif.append(float(np.mean([r.matches(float(x)) for x in raw[np.arange(n), np.arange(n)]])))
                if len(hits) == 1:
                    rank1_cell, first10_cell = f"{_pct(hits[0] / n)} ({hits[0]}/{n})", f"{first10[0]}"
                else:
                    # the mean over the draws, and each draw's count
                    listed = ", ".join(str(h) for h in hits)
                    rank1_cell = f"{_pct(np.mean(hits) / n)} ({np.mean(hits):.1f}/{n}; draws {listed})"
                    first10_cell = f"{np.mean(first10):.1f} ({', '.join(str(h) for h in first10)})"
                cells += [rank1_cell, first10_cell, _pct(float(np.mean(verif))) if attacker != "adaptive" else "-"]
            lines.append(f"| {METHODS[method]} | {attacker} | " + " | ".join(cells) + " |")
    lines.append("")
    # Consent rule on pairs.txt
    same = diff = same_ok = diff_ok = 0
    single = {r.name: [0, 0] for r in recs}
    skipped = 0
    for a, b, is_same in pairs:
        ra, rb = results.get(str(a)), results.get(str(b))
        if ra is None or rb is None:
            skipped += 1
            ok = False
            per: dict[str, float] = {}
        else:
            per = {r.name: r.similarity(ra["variants"]["clean"][r.name], rb["variants"]["clean"][r.name]) for r in recs}
            gate = matchable(Face(**ra["face"])) and matchable(Face(**rb["face"]))
            ok = gate and bool(accepted(recs, per))
        idx = 0 if is_same else 1
        for r in recs:
            if per:
                single[r.name][idx] += r.matches(per[r.name])
        if is_same:
            same += 1
            same_ok += ok
        else:
            diff += 1
            diff_ok += ok
    lines.append(
        f"Consent rule on pairs.txt ({same} same-person, {diff} different-person pairs; "
        f"{skipped} with a photo where no face was found count as rejected):"
    )
    lines.append("")
    lines.append("| rule | true accepts | false accepts |")
    lines.append("|---|---:|---:|")
    for r in recs:
        lines.append(
            f"| {r.name} alone, usual threshold ({r.threshold}) | {_pct(single[r.name][0] / max(same, 1))} "
            f"| {_pct(single[r.name][1] / max(diff, 1))} ({single[r.name][1]}/{diff}) |"
        )
    lines.append(
        f"| consent rule (`unerkannt.consent`) + quality gate | {_pct(same_ok / max(same, 1))} ({same_ok}/{same}) "
        f"| {_pct(diff_ok / max(diff, 1))} ({diff_ok}/{diff}) |"
    )
    lines.append("")
    # Score distributions (clean probes vs gallery)
    lines.append("Clean score distributions on the rank-1 gallery (genuine: probe vs mate; impostor: probe vs others):")
    lines.append("")
    for r in recs:
        q = np.stack([results[str(people[n][0])]["variants"]["clean"][r.name] for n in probe_ok])
        g = np.stack([results[f]["variants"]["clean"][r.name] for f in gallery_files])
        s = r.similarity_matrix(q, g)
        genuine = s[np.arange(n), np.arange(n)]
        mask = np.ones_like(s, dtype=bool)
        mask[np.arange(n), np.arange(n)] = False
        impostor = s[mask]
        worst = impostor.max() if r.metric == "cosine" else impostor.min()
        lo, hi = (5, 50) if r.metric == "cosine" else (50, 95)
        lines.append(
            f"- {r.name} ({r.metric}): genuine p{lo}/p{hi} = {np.percentile(genuine, lo):.3f}/"
            f"{np.percentile(genuine, hi):.3f}; closest of {impostor.size} impostor scores = {worst:.3f}; "
            f"impostors past the usual threshold {r.threshold}: "
            f"{int(sum(r.matches(float(x)) for x in impostor))}"
        )
    # Both recognizers' joint impostor rate on the same gallery (the calibration of the
    # consent rule is bench/calibrate_consent.py, on people named in no pair of pairs.txt)
    joint = {}
    for r in recs:
        q = np.stack([results[str(people[x][0])]["variants"]["clean"][r.name] for x in probe_ok])
        g = np.stack([results[f]["variants"]["clean"][r.name] for f in gallery_files])
        joint[r.name] = r.similarity_matrix(q, g)
    off = np.ones((n, gallery_size), dtype=bool)
    off[np.arange(n), np.arange(n)] = False
    lines.append("")
    lines.append(f"Both recognizers together on the clean gallery ({n} genuine, {int(off.sum())} impostor pairs):")
    lines.append("")
    lines.append("| sface >= | dlib < | genuine accepted | impostors accepted |")
    lines.append("|---:|---:|---:|---:|")
    for ts, td in [(0.363, 0.6), (0.4, 0.6), (0.4, 0.55), (0.45, 0.55), (0.45, 0.5), (0.5, 0.45)]:
        both = (joint["sface"] >= ts) & (joint["dlib"] < td)
        gen = both[np.arange(n), np.arange(n)]
        lines.append(f"| {ts} | {td} | {_pct(float(gen.mean()))} | {int(both[off].sum())} |")
    if "synthetic" in methods:
        lines += _no_one(results, people, probe_ok, gallery_files, recs)
    for method in ("natural", "synthetic"):
        if method in methods:
            done = [f for f, r in results.items() if r is not None and method in r["variants"]]
            own = [
                f
                for f in done
                if any(
                    r.matches(
                        r.similarity(results[f]["variants"][method][r.name], results[f]["variants"]["clean"][r.name])
                    )
                    for r in recs
                )
            ]
            lines.append("")
            lines.append(
                f"{method}: {len(own)} of {len(done)} protected photos still match their own original for at least "
                "one recognizer at its usual threshold (what `protect --audit` checks)."
            )
    if "fill" in methods:
        # what protect --audit checks: the protected face against its own original
        filled = [f for f, r in results.items() if r is not None and "fill" in r["variants"]]
        still = [
            f
            for f in filled
            if any(
                r.matches(r.similarity(results[f]["variants"]["fill"][r.name], results[f]["variants"]["clean"][r.name]))
                for r in recs
            )
        ]
        written = refilled = failed = 0
        from unerkannt import AnonymizationError, ProtectOptions, protect

        for f in still:
            try:
                out = protect(np.asarray(Image.open(f).convert("RGB")), options=ProtectOptions(audit=True))
                written += 1
                refilled += any(x.stage == "audit" for x in out.faces)  # type: ignore[union-attr]
            except AnonymizationError:
                failed += 1
        lines.append("")
        lines.append(
            f"Filled face against its own original photo (the check of `protect --audit`): {len(still)} of "
            f"{len(filled)} filled photos still match for at least one recognizer at its usual threshold "
            "(hair and surroundings inside the aligned crop). `protect --audit` on those photos: "
            f"{written} written ({refilled} refilled larger), {failed} refused (fail closed)."
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown_out:
        args.markdown_out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
