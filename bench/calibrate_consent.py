#!/usr/bin/env python3
"""Calibrate the consent rule on LFW people who appear in no pair of ``pairs.txt``.

``pairs.txt`` is the test set of the consent rule, so its thresholds and quality gate are
chosen here, on identities it never names:

* **genuine pairs**: every pair of photos of each such person with two or more photos,
  at most ``--cap`` pairs per person (drawn with ``--seed``) so that one person with many
  photos does not decide the rate;
* **impostor pairs**: every pair of photos of two different such people, single-photo
  people included (about 900,000 pairs, so a false-accept rate of 0.01 % is about 90
  pairs and is resolved).

Faces are found the way ``protect --consent`` finds them: ``protect``'s default detector
and profile (CenterFace at 0.06), the most central face, its landmarks; then both
recognizers. ``bench/reidentify.py`` took YuNet's face first; ``--faces yunet`` does the
same here (for comparison with its figures).

The turn gate is read from how genuine scores and acceptance fall, and how impostor
scores rise, with the turn measure of :func:`unerkannt.consent.matchable`; the face size
gate from the same photos shrunk so that the face is 32-80 px (probe small, the other
photo as it is). Then every candidate rule is listed with its figures, and the rule of
``unerkannt.consent.rule`` is checked against them.

``--test`` then scores the rule of ``unerkannt.consent.rule`` (and the previous one) on
all of ``pairs.txt`` and on ``bench/reidentify.py``'s rank-1 gallery (seed 0, 200 probes,
300 distractors) without its people of the calibration set (about 65,000 impostor pairs).

Usage (repository root, venv active)::

    python bench/calibrate_consent.py                    # calibration table (about 10 min the first time)
    python bench/calibrate_consent.py --test             # and the test on pairs.txt (+15 min the first time)

Templates are cached in ``bench/.cache/consent-templates.pkl`` (``--cache``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import os
import pickle
import platform
import random
import sys
import time
from collections.abc import Callable, Iterable
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KIT = REPO_ROOT.parent / "shared" / "bench" / "identity"
DEFAULT_CACHE = REPO_ROOT / "bench" / ".cache" / "consent-templates.pkl"
#: Face sizes (pixels, shorter side of the detected box) the size check shrinks photos to.
SIZES = (32, 40, 48, 56, 64, 80)
#: The FAR a rule must stay under on the calibration impostors: 10x below the target 0.1 %,
#: for the 95 % upper confidence bound, not just the count.
FAR_BOUND = 1e-4

_STATE: dict[str, Any] = {}


# --------------------------------------------------------------------------- templates


def _init() -> None:
    cv2.setNumThreads(1)
    from unerkannt import ProtectOptions
    from unerkannt.detect import load_detector
    from unerkannt.pipeline import build_detector
    from unerkannt.recognize import load_recognizer

    _STATE["detector"] = build_detector(ProtectOptions(threads=1))
    _STATE["yunet"] = load_detector("yunet", threshold=0.5, scales=(1.0,), threads=1)
    _STATE["recognizers"] = [load_recognizer("sface"), load_recognizer("dlib")]


def _central(faces: list[Any], width: int, height: int) -> Any:
    cx, cy = width / 2, height / 2
    return min(faces, key=lambda f: ((f.box[0] + f.box[2]) / 2 - cx) ** 2 + ((f.box[1] + f.box[3]) / 2 - cy) ** 2)


def _record(image: np.ndarray, face: Any) -> dict[str, Any]:
    out = {"box": tuple(float(v) for v in face.box), "score": float(face.score), "detector": face.detector}
    out["landmarks"] = None if face.landmarks is None else tuple(tuple(map(float, p)) for p in face.landmarks)
    for r in _STATE["recognizers"]:
        out[r.name] = r.embed(image, face)
    return out


def _embed(job: tuple[str, int]) -> tuple[tuple[str, int], dict[str, Any]]:
    """One photo (``size`` 0) or the photo shrunk so that its face is ``size`` px.

    Returns ``{"centerface": record or None, "yunet": record or None}`` (YuNet only at size 0).
    """
    path, size = job
    image = np.asarray(Image.open(path).convert("RGB"))
    height, width = image.shape[:2]
    faces = _STATE["detector"].detect(image)
    out: dict[str, Any] = {"centerface": None, "yunet": None}
    if size:
        if not faces:
            return job, out
        face = _central(faces, width, height)
        factor = size / min(face.width, face.height)
        image = cv2.resize(
            image, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA
        )
        height, width = image.shape[:2]
        faces = _STATE["detector"].detect(image)
    if faces:
        out["centerface"] = _record(image, _central(faces, width, height))
    if not size:
        marks = _STATE["yunet"].detect(image)
        if marks:
            out["yunet"] = _record(image, _central(marks, width, height))
    return job, out


def _save(cache: Path, results: dict[Any, Any]) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        pickle.dump(results, out)
    os.replace(tmp, cache)


def compute(jobs: Iterable[tuple[str, int]], cache: Path, workers: int) -> dict[tuple[str, int], Any]:
    """Templates of every job, from ``cache`` where it has them (it is extended)."""
    results: dict[tuple[str, int], Any] = {}
    if cache.is_file():
        with open(cache, "rb") as cached:
            results = pickle.load(cached)
    todo = sorted(set(jobs) - set(results))
    if todo:
        start = time.time()
        print(f"templates of {len(todo)} photos, {workers} workers", file=sys.stderr)
        with get_context("fork").Pool(workers, initializer=_init) as pool:
            for i, (job, out) in enumerate(pool.imap_unordered(_embed, todo, chunksize=4), 1):
                results[job] = out
                if i % 200 == 0:
                    print(f"  {i}/{len(todo)} in {time.time() - start:.0f}s", file=sys.stderr)
                    _save(cache, results)
        _save(cache, results)
    return results


# --------------------------------------------------------------------------- data sets


def _people(kit: Path) -> dict[str, list[str]]:
    people = {}
    for folder in sorted((kit / "lfw").iterdir()):
        files = sorted(str(f) for f in folder.glob("*.jpg")) if folder.is_dir() else []
        if files:
            people[folder.name] = files
    return people


def _test_pairs(kit: Path) -> list[tuple[str, str, bool]]:
    def photo(name: str, n: str) -> str:
        return str(kit / "lfw" / name / f"{name}_{int(n):04d}.jpg")

    pairs = []
    for line in (kit / "pairs.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            pairs.append((photo(parts[0], parts[1]), photo(parts[0], parts[2]), True))
        elif len(parts) == 4:
            pairs.append((photo(parts[0], parts[1]), photo(parts[2], parts[3]), False))
    return [p for p in pairs if Path(p[0]).is_file() and Path(p[1]).is_file()]


def _pair_names(kit: Path) -> set[str]:
    names = set()
    for line in (kit / "pairs.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            names.add(parts[0])
        elif len(parts) == 4:
            names |= {parts[0], parts[2]}
    return names


#: Impostor pairs left out: one person under two names in LFW (the same photo, and
#: Felipe VI as prince), found as the two closest impostor pairs of the calibration set.
ALIASES = {frozenset({"Bart_Hendricks", "Ricky_Ray"}), frozenset({"Felipe_De_Borbon", "Prince_Felipe"})}


def _gallery(kit: Path, people: dict[str, list[str]]) -> tuple[list[str], list[str], list[str]]:
    """``bench/reidentify.py``'s rank-1 gallery (seed 0, 200 probes, 300 distractors).

    Returns the probe photos, their mates and the distractor photos.
    """
    rng = random.Random(0)
    multi = [n for n, f in people.items() if len(f) >= 2]
    probes = sorted(rng.sample(multi, 200))
    others = [n for n in people if n not in set(probes)]
    distractors = sorted(rng.sample(others, 300))
    return [people[n][0] for n in probes], [people[n][1] for n in probes], [people[n][0] for n in distractors]


# --------------------------------------------------------------------------- scoring


class Photos:
    """Templates, face size and turn of a list of photos (faces of one source)."""

    def __init__(self, results: dict[tuple[str, int], Any], files: list[str], source: str, size: int = 0) -> None:
        from unerkannt.consent import turn
        from unerkannt.faces import Face

        self.files = files
        recs = []
        for f in files:
            r = results[(f, size)]
            recs.append((r["yunet"] or r["centerface"]) if source == "yunet" and not size else r["centerface"])
        self.found = np.array([r is not None for r in recs])
        faces = [
            Face(box=r["box"], score=r["score"], detector=r["detector"], landmarks=r["landmarks"]) if r else None
            for r in recs
        ]
        self.size = np.array([min(f.width, f.height) if f else 0.0 for f in faces])
        self.turn = np.array([turn(f) if f else math.inf for f in faces])
        self.templates = {
            name: np.stack([r[name] if r else np.full(128, np.nan, np.float32) for r in recs])
            for name in ("sface", "dlib")
        }

    def gate(self, max_turn: float, min_face: float) -> np.ndarray:
        return self.found & (self.size >= min_face) & (self.turn <= max_turn)


def _scores(recs: list[Any], a: Photos, b: Photos) -> dict[str, np.ndarray]:
    """``{recognizer: (len(a), len(b)) scores}``; NaN where a face is missing."""
    return {r.name: r.similarity_matrix(a.templates[r.name], b.templates[r.name]) for r in recs}


def _upper(k: int, n: int) -> float:
    """One-sided 95 % upper confidence bound of a rate with k events in n (Poisson)."""

    def cdf(lam: float) -> float:
        return sum(math.exp(-lam + j * math.log(lam) - math.lgamma(j + 1)) for j in range(k + 1))

    lo, hi = 0.0, 10.0 + 3.0 * k
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) > 0.05 else (lo, mid)
    return hi / n


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f} %"


class Rule:
    """A candidate: ``accept(scores) -> bool array``; ``allowed``: both recognizers must agree."""

    def __init__(self, name: str, accept: Callable[[dict[str, np.ndarray]], np.ndarray], allowed: bool = True):
        self.name, self.accept, self.allowed = name, accept, allowed


def _solve(values: np.ndarray, allowed_k: int, higher: bool = True, step: float = 0.001) -> float:
    """The loosest threshold on a grid of ``step`` that at most ``allowed_k`` of ``values`` pass.

    ``higher``: values pass at ``>=`` the threshold (else at ``<``); NaN never passes.
    """
    v = np.sort(values[np.isfinite(values)])
    if higher:
        t = v[::-1][allowed_k] if allowed_k < len(v) else -np.inf  # the first value that must fail
        return math.floor(t / step + 1) * step  # the grid point above it
    t = v[allowed_k] if allowed_k < len(v) else np.inf
    return math.floor(t / step) * step  # the grid point at or below it


def _candidates(
    si: dict[str, np.ndarray], sg: dict[str, np.ndarray], allowed_k: int, stats: dict[str, tuple[float, float]]
) -> list[Rule]:
    """Every rule tried; the free threshold of each is solved on the impostors ``si`` (no gate)."""

    def z(s: dict[str, np.ndarray], name: str) -> np.ndarray:
        mean, sd = stats[name]
        return (s[name] - mean) / sd if name == "sface" else (mean - s[name]) / sd

    def fused(s: dict[str, np.ndarray], w: float = 0.5) -> np.ndarray:
        return w * z(s, "sface") + (1 - w) * z(s, "dlib")

    rules = [Rule("previous rule: sface >= 0.4 and dlib < 0.55", lambda s: (s["sface"] >= 0.4) & (s["dlib"] < 0.55))]
    ts, td = _solve(si["sface"], allowed_k), _solve(si["dlib"], allowed_k, higher=False)
    rules.append(
        Rule(
            f"both strict, each at the bound alone: sface >= {ts:.3f} and dlib < {td:.3f}",
            lambda s, ts=ts, td=td: (s["sface"] >= ts) & (s["dlib"] < td),
        )
    )
    for dl in (0.55, 0.6):
        t = _solve(np.where(si["dlib"] < dl, si["sface"], np.nan), allowed_k)
        rules.append(
            Rule(
                f"both strict: sface >= {t:.3f} and dlib < {dl}",
                lambda s, t=t, dl=dl: (s["sface"] >= t) & (s["dlib"] < dl),
            )
        )
    t = _solve(np.where(si["sface"] >= 0.363, si["dlib"], np.nan), allowed_k, higher=False)
    rules.append(
        Rule(f"both strict: sface >= 0.363 and dlib < {t:.3f}", lambda s, t=t: (s["sface"] >= 0.363) & (s["dlib"] < t))
    )
    floors = (si["sface"] >= 0.363) & (si["dlib"] < 0.6)
    for w, how in ((0.5, "equal weights"), (0.3, "sface weight 0.3"), (0.7, "sface weight 0.7")):
        t = _solve(np.where(floors, fused(si, w), np.nan), allowed_k, step=0.01)
        rules.append(
            Rule(
                f"sface >= 0.363 and dlib < 0.6 and fused z ({how}) >= {t:.2f}",
                lambda s, t=t, w=w: (s["sface"] >= 0.363) & (s["dlib"] < 0.6) & (fused(s, w) >= t),
            )
        )
    # weights of a linear discriminant: impostor covariance, genuine and impostor means
    x_i = np.stack([z(si, "sface"), z(si, "dlib")], 1)
    x_g = np.stack([z(sg, "sface"), z(sg, "dlib")], 1)
    w_lda = np.linalg.solve(np.cov(x_i[np.isfinite(x_i).all(1)].T), np.nanmean(x_g, 0) - np.nanmean(x_i, 0))
    w = float(w_lda[0] / w_lda.sum())
    t = _solve(np.where(floors, fused(si, w), np.nan), allowed_k, step=0.01)
    rules.append(
        Rule(
            f"sface >= 0.363 and dlib < 0.6 and fused z (discriminant weights, sface {w:.2f}) >= {t:.2f}",
            lambda s, t=t, w=w: (s["sface"] >= 0.363) & (s["dlib"] < 0.6) & (fused(s, w) >= t),
        )
    )
    t = _solve(fused(si), allowed_k, step=0.01)
    rules.append(Rule(f"fused z (equal weights) >= {t:.2f}, no floors", lambda s, t=t: fused(s) >= t, allowed=False))
    rules.append(Rule(f"sface alone >= {ts:.3f}", lambda s, t=ts: s["sface"] >= t, allowed=False))
    rules.append(Rule(f"dlib alone < {td:.3f}", lambda s, t=td: s["dlib"] < t, allowed=False))
    return rules


def _rule_of_unerkannt(recs: list[Any], fused: float | None = None) -> Rule:
    """``unerkannt.consent.accepted``, or the same with the fused threshold ``fused``."""
    from unerkannt.consent import AGREE, FUSED, IMPOSTOR, accepted, rule

    name = (
        f"**unerkannt's rule**: sface >= {AGREE['sface']} and dlib < {AGREE['dlib']} and "
        f"fused z >= {FUSED if fused is None else fused} (z from mean / sd {IMPOSTOR['sface'][0]} / "
        f"{IMPOSTOR['sface'][1]} and {IMPOSTOR['dlib'][0]} / {IMPOSTOR['dlib'][1]})"
    )

    def accept(s: dict[str, np.ndarray]) -> np.ndarray:
        scores = {k: np.nan_to_num(v, nan=-np.inf if k == "sface" else np.inf) for k, v in s.items()}
        if fused is None:
            return accepted(recs, scores)
        saved, rule.FUSED = rule.FUSED, fused
        try:
            return accepted(recs, scores)
        finally:
            rule.FUSED = saved

    return Rule(name, accept)


def calibration(
    args: argparse.Namespace, results: dict[Any, Any], free: dict[str, list[str]], lines: list[str]
) -> None:
    from unerkannt.consent import MAX_TURN, MIN_FACE
    from unerkannt.recognize import load_recognizer

    recs = [load_recognizer("sface"), load_recognizer("dlib")]
    files = [f for fs in free.values() for f in fs]
    owner = np.array([n for n, fs in free.items() for _ in fs])
    photos = Photos(results, files, args.faces)
    full = _scores(recs, photos, photos)
    n = len(files)
    iu = np.triu_indices(n, 1)
    alias = np.array([frozenset({owner[i], owner[j]}) in ALIASES for i, j in zip(*iu, strict=True)])
    is_imp = (owner[iu[0]] != owner[iu[1]]) & ~alias
    ia, ib = iu[0][is_imp], iu[1][is_imp]
    si = {k: v[ia, ib] for k, v in full.items()}
    # genuine pairs: all pairs of each person, at most --cap per person
    rng = random.Random(args.seed)
    index = {f: i for i, f in enumerate(files)}
    gen_all: list[tuple[int, int]] = []
    gen: list[tuple[int, int]] = []
    for fs in free.values():
        pairs = [(index[a], index[b]) for k, a in enumerate(fs) for b in fs[k + 1 :]]
        gen_all += pairs
        gen += sorted(rng.sample(pairs, args.cap)) if len(pairs) > args.cap else pairs
    ga, gb = np.array(gen).T
    aa, ab = np.array(gen_all).T
    sg = {k: v[ga, gb] for k, v in full.items()}
    sg_all = {k: v[aa, ab] for k, v in full.items()}
    n_imp = int(is_imp.sum())
    allowed_k = max(k for k in range(1000) if _upper(k, n_imp) <= FAR_BOUND)
    finite = np.isfinite(si["sface"])
    stats = {k: (float(np.mean(v[finite])), float(np.std(v[finite]))) for k, v in si.items()}
    multi = [nm for nm, fs in free.items() if len(fs) >= 2]
    lines += [
        f"**Calibration set** ({args.faces} faces): the {len(free)} people of the kit named in no pair of "
        f"`pairs.txt`, {n} photos (faces found in {int(photos.found.sum())}); {len(multi)} of them have two or "
        f"more photos: {len(gen_all)} genuine pairs, {len(gen)} when capped at {args.cap} per person "
        f"(seed {args.seed}); {n_imp:,} impostor pairs (every pair of photos of two different people; "
        f"{int(alias.sum())} pairs of one person under two names left out). A rule passes when its impostor "
        f"false accepts k have a 95 % upper bound <= {_pct(FAR_BOUND, 2)} (k <= {allowed_k}), counted without the "
        "quality gate.",
        "",
        f"Impostor score mean / sd: sface {stats['sface'][0]:.4f} / {stats['sface'][1]:.4f}, "
        f"dlib {stats['dlib'][0]:.4f} / {stats['dlib'][1]:.4f} (z = (score - mean) / sd; mean - score for dlib).",
        "",
    ]
    the_rule = _rule_of_unerkannt(recs)

    # --- turn gate
    t_all = np.maximum(photos.turn[aa], photos.turn[ab])
    t_imp = np.maximum(photos.turn[ia], photos.turn[ib])
    acc_all = the_rule.accept(sg_all)
    acc_imp = the_rule.accept(si)
    lines += [
        f"Turn (the measure of `matchable()`; of the more turned photo of a pair; all {len(gen_all)} genuine "
        "pairs), scored by unerkannt's rule without the quality gate. A turn bin *resolves* the target when its "
        f"impostor pairs would show a rate of 1 in {1 / FAR_BOUND:,.0f} as 3 false accepts or more:",
        "",
        "| turn | genuine pairs (photos) | genuine sface p10 / p50 | genuine dlib p50 / p90 | genuine accepted "
        f"| impostor pairs | impostor sface p99.9 | impostor dlib p0.1 | impostors accepted | resolves 1 in "
        f"{1 / FAR_BOUND:,.0f} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]

    def q(values: np.ndarray, pct: float) -> str:
        return f"{np.percentile(values, pct):.3f}" if len(values) else "-"

    edges = [0.0, 0.2, 0.35, 0.5, 0.65, math.inf]
    bins = [(f"{lo} - {hi}" if hi < math.inf else f">= {lo}", lo, hi) for lo, hi in itertools.pairwise(edges)]
    bins.append(("not measurable (profile)", math.inf, math.nan))
    for label, lo, hi in bins:
        if lo < math.inf:
            g, m = (t_all >= lo) & (t_all < hi), (t_imp >= lo) & (t_imp < hi) & finite
            in_bin = {i for i in np.concatenate([aa[g], ab[g]]) if lo <= photos.turn[i] < hi}
        else:
            g, m = ~np.isfinite(t_all), ~np.isfinite(t_imp) & finite
            in_bin = {i for i in np.concatenate([aa[g], ab[g]]) if not np.isfinite(photos.turn[i])}
        k = int(acc_imp[m].sum())
        lines.append(
            f"| {label} | {int(g.sum())} ({len(in_bin)}) | {q(sg_all['sface'][g], 10)} / {q(sg_all['sface'][g], 50)} | "
            f"{q(sg_all['dlib'][g], 50)} / {q(sg_all['dlib'][g], 90)} | {int(acc_all[g].sum())}/{int(g.sum())} | "
            f"{int(m.sum()):,} | {q(si['sface'][m], 99.9)} | {q(si['dlib'][m], 0.1)} | "
            f"{k} ({k / max(int(m.sum()), 1) * 1e4:.2f} per 10,000) | {'yes' if m.sum() * FAR_BOUND >= 3 else 'no'} |"
        )
    lines.append("")

    # --- face size: a photo of each person with 2+ photos shrunk, against the others as they are
    lines += [
        "Face size: each photo of the people with two or more photos shrunk (area interpolation) so that its "
        "face is about N px, against every other photo as it is; unerkannt's rule without the quality gate:",
        "",
        "| face px (detected, median) | faces found | genuine pairs | genuine sface p10 / p50 | genuine accepted "
        "| impostor pairs | impostor sface p99.99 | impostors accepted |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    probe_idx = [i for i, f in enumerate(files) if len(free[owner[i]]) >= 2]
    for size in (0, *SIZES):
        small = Photos(results, [files[i] for i in probe_idx], "centerface", size=size)
        sc = _scores(recs, small, photos)
        mate = owner[probe_idx][:, None] == owner[None, :]
        self_ = np.array(probe_idx)[:, None] == np.arange(n)[None, :]
        other = ~mate & ~np.array([[frozenset({owner[i], owner[j]}) in ALIASES for j in range(n)] for i in probe_idx])
        gmask = mate & ~self_ & small.found[:, None]
        imask = other & small.found[:, None]
        gs_ = {k: v[gmask] for k, v in sc.items()}
        is_ = {k: v[imask] for k, v in sc.items()}
        label = "as it is" if not size else f"{size}"
        lines.append(
            f"| {label} ({np.median(small.size[small.found]):.0f}) | {int(small.found.sum())}/{len(probe_idx)} | "
            f"{int(gmask.sum())} | {np.percentile(gs_['sface'], 10):.3f} / {np.percentile(gs_['sface'], 50):.3f} | "
            f"{_pct(float(the_rule.accept(gs_).mean()))} | {int(imask.sum()):,} | "
            f"{np.percentile(is_['sface'], 99.99):.3f} | {int(the_rule.accept(is_).sum())} |"
        )
    lines.append("")

    # --- candidate rules
    def row(rule: Rule, max_turn: float, min_face: float = MIN_FACE, note: str = "") -> str:
        gate = photos.gate(max_turn, min_face)
        ok_g = gate[ga] & gate[gb]
        ok_i = gate[ia] & gate[ib]
        acc_g = rule.accept(sg)
        acc_i = rule.accept(si)
        k = int(acc_i.sum())
        return (
            f"| {rule.name}{note} | {'yes' if rule.allowed else 'no'} | {max_turn} | "
            f"{_pct(float((acc_g & ok_g).mean()))} ({int((acc_g & ok_g).sum())}/{len(gen)}) | "
            f"{_pct(float(acc_g.mean()))} | {_pct(float(rule.accept(sg_all).mean()))} | "
            f"{int((acc_i & ok_i).sum())} | {k} | {_pct(_upper(k, n_imp), 4)} |"
        )

    gate_ok = photos.gate(MAX_TURN, MIN_FACE)
    lines += [
        f"Candidate rules (all tried; each one's free threshold solved on the impostors for k <= {allowed_k}). "
        f"The quality gate passes {_pct(float((gate_ok[ga] & gate_ok[gb]).mean()))} of the capped genuine pairs "
        f"at MAX_TURN {MAX_TURN} (turn 0.35: "
        f"{_pct(float((photos.gate(0.35, MIN_FACE)[ga] & photos.gate(0.35, MIN_FACE)[gb]).mean()))}). "
        "*Both agree*: each recognizer must match at least at its usual threshold.",
        "",
        f"| rule | both agree | max turn | genuine accepted ({len(gen)} capped pairs) | without the gate "
        f"| all {len(gen_all)} pairs, without the gate | impostors accepted, gate | without the gate "
        f"(of {n_imp:,}) | FAR 95 % upper bound |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cands = _candidates(si, sg, allowed_k, stats)
    lines.append(row(cands[0], 0.35, note=" (as before)"))
    for rule in cands:
        lines.append(row(rule, MAX_TURN))
    for stricter in (3.5, 4.0):  # the trade: fewer false accepts, more enrolled people hidden
        lines.append(row(_rule_of_unerkannt(recs, fused=stricter), MAX_TURN, note=" (stricter, for the trade-off)"))
    for max_turn in (0.35, MAX_TURN, 0.65, math.inf):
        lines.append(row(the_rule, max_turn, note=" (no turn gate, profiles too)" if max_turn == math.inf else ""))
    lines.append("")


def test(
    args: argparse.Namespace, results: dict[Any, Any], people: dict[str, list[str]], calib: set[str], lines: list[str]
) -> None:
    """The rule of unerkannt (and the previous one) on pairs.txt and the rank-1 gallery."""
    from unerkannt.consent import MAX_TURN, MIN_FACE
    from unerkannt.recognize import load_recognizer

    recs = [load_recognizer("sface"), load_recognizer("dlib")]
    the_rule = _rule_of_unerkannt(recs)
    rules = [
        ("unerkannt's rule", the_rule.accept, MAX_TURN),
        ("previous rule: sface >= 0.4 and dlib < 0.55", lambda s: (s["sface"] >= 0.4) & (s["dlib"] < 0.55), 0.35),
    ]
    pairs = _test_pairs(args.kit)
    files = sorted({f for a, b, _ in pairs for f in (a, b)})
    index = {f: i for i, f in enumerate(files)}
    pa = np.array([index[a] for a, _, _ in pairs])
    pb = np.array([index[b] for _, b, _ in pairs])
    same = np.array([s for _, _, s in pairs])
    probes, mates, distractors = _gallery(args.kit, people)
    # gallery people of the calibration set are left out: the gallery was drawn from everyone
    keep = [i for i, f in enumerate(probes) if f not in calib]
    probes, mates = [probes[i] for i in keep], [mates[i] for i in keep]
    distractors = [f for f in distractors if f not in calib]
    lines += [
        f"**Test**, once, after the rule was fixed: all of `pairs.txt` ({int(same.sum())} same-person, "
        f"{int((~same).sum())} different-person pairs), and the rank-1 gallery of `bench/reidentify.py` "
        f"(seed 0) without its people of the calibration set: {len(probes)} probes, each against its mate "
        f"(genuine) and against the other {len(probes) - 1} mates and {len(distractors)} distractors "
        "(impostors). A photo without a face counts as rejected.",
        "",
        "| faces | rule | max turn | quality gate passes (same pairs) | true accepts | false accepts "
        "| true accepts without the gate | gallery: genuine | gallery: impostors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for source in ("centerface", "yunet"):
        photos = Photos(results, files, source)
        sc = {k: v[pa, pb] for k, v in _scores(recs, photos, photos).items()}
        gp = Photos(results, probes, source)
        gallery = Photos(results, mates + distractors, source)
        gs = _scores(recs, gp, gallery)
        m = len(probes)
        label = "CenterFace (as protect)" if source == "centerface" else "YuNet first (as reidentify.py)"
        for name, accept, max_turn in rules:
            gate = photos.gate(max_turn, MIN_FACE)
            ok = gate[pa] & gate[pb]
            acc = accept(sc)
            tar = acc & ok & same
            far = acc & ok & ~same
            g_acc = accept(gs) & gp.gate(max_turn, MIN_FACE)[:, None] & gallery.gate(max_turn, MIN_FACE)[None, :]
            genuine = g_acc[np.arange(m), np.arange(m)]
            impostors = int(g_acc.sum() - genuine.sum())
            lines.append(
                f"| {label} | {name} | {max_turn} | {_pct(float(ok[same].mean()))} | "
                f"**{_pct(float(tar.sum() / same.sum()))}** ({int(tar.sum())}/{int(same.sum())}) | "
                f"**{_pct(float(far.sum() / (~same).sum()))}** ({int(far.sum())}/{int((~same).sum())}) | "
                f"{_pct(float((acc & same).sum() / same.sum()))} | {int(genuine.sum())}/{m} | "
                f"{impostors}/{g_acc.size - m:,} |"
            )
    lines.append("")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kit", type=Path, default=DEFAULT_KIT)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cap", type=int, default=36, help="genuine pairs per person at most (36: all of 9 photos)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--faces", choices=("centerface", "yunet"), default="centerface")
    ap.add_argument("--test", action="store_true", help="then score the rule on pairs.txt and the gallery")
    ap.add_argument("--markdown-out", type=Path)
    args = ap.parse_args(argv)
    start = time.time()
    people = _people(args.kit)
    named = _pair_names(args.kit)
    free = {n: fs for n, fs in people.items() if n not in named}
    jobs = [(f, 0) for fs in free.values() for f in fs]
    jobs += [(f, s) for fs in free.values() if len(fs) >= 2 for f in fs for s in SIZES]
    if args.test:
        pairs = _test_pairs(args.kit)
        test_files = {f for a, b, _ in pairs for f in (a, b)}
        if test_files & {f for fs in free.values() for f in fs}:
            raise SystemExit("a pairs.txt photo is in the calibration set")
        for group in _gallery(args.kit, people):
            test_files |= set(group)
        jobs += [(f, 0) for f in sorted(test_files)]
    results = compute(jobs, args.cache, args.workers)
    lines = [
        f"Run {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} on {platform.node() or 'this machine'} "
        f"({os.cpu_count()} cores), {time.time() - start:.0f} s with cached templates. Command:",
        "",
        "    python bench/calibrate_consent.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "",
    ]
    calibration(args, results, free, lines)
    if args.test:
        test(args, results, people, {f for fs in free.values() for f in fs}, lines)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown_out:
        args.markdown_out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
