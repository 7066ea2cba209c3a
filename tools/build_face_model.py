"""Rebuild ``src/unerkannt/anonymize/models/faces-of-no-one.npy`` from the detection kit.

The faces that ``--method synthetic`` draws belong to no one: they are random samples
of a statistical (PCA) model of many faces, not any person's face. The model is built
from the unmasked faces of the development kit's detection half
(``../shared/bench/detect``, the public "Face Mask Detection" set, CC0):

1. every face annotated ``without_mask`` and at least ``MIN_HEIGHT`` px high;
2. YuNet (the project's detector, threshold 0.5, scales 1x and 2x) gives its 5 landmarks;
   faces it does not find, or finds turned (nose outside the eyes), are left out;
3. the faces are grouped by person with SFace (cosine >= 0.363 to a group's first face),
   and each person becomes one face, the mean of their photos, so that no one who is
   photographed often weighs more than anyone else;
4. each face is aligned to the template of ``unerkannt.anonymize.faces_of_no_one`` (the
   similarity transform of its 5 landmarks, least squares), its brightness and contrast
   normalised, and mirrored (both sides count);
5. mean and principal components of the persons' faces; candidates are the mean plus
   ``COMPONENTS`` components with coefficients drawn from N(0, (SPREAD x their
   spread)^2), generator seed ``SEED``, slightly sharpened;
6. a candidate is kept only if it is clearly no one of the kit: both recognizers, on the
   candidate alone, find every kit face it was built from farther than ``NOT_SFACE`` /
   ``NOT_DLIB`` (well short of their match thresholds, 0.363 and 0.6); the first ``COUNT``
   kept are the model.

The same kit and versions (numpy, Pillow, OpenCV, onnxruntime, dlib; see PROVENANCE.md)
rebuild the file byte for byte. ``identity/`` (LFW) is never read: it may not be
redistributed. Needs the recognizers (``pip install 'unerkannt[recognition]'``).

usage: python tools/build_face_model.py [--kit ../shared/bench/detect] [--out FILE] [--sheet PNG] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from unerkannt.anonymize.faces_of_no_one import CANVAS, CANVAS_BOX, LANDMARKS, MODEL, face_alpha  # noqa: E402
from unerkannt.detect import load_detector  # noqa: E402
from unerkannt.faces import Face, iou  # noqa: E402
from unerkannt.recognize import load_recognizer  # noqa: E402

MIN_HEIGHT = 32
MIN_SCORE = 0.7
COUNT = 16
COMPONENTS = 6
SPREAD = 0.5
#: Unsharp masking of the finished faces (sigma in canvas pixels, amount): an average of
#: small, slightly misaligned faces is softer than any of them.
SHARPEN = (1.5, 0.8)
SEED = 20261130
#: Brightness (mean grey level) and contrast (its standard deviation) of every aligned
#: face inside the face ellipse, before averaging: no photo's lighting dominates.
LEVEL, CONTRAST = 140.0, 40.0
SAME_PERSON = 0.363
#: A face of no one is kept when SFace's cosine to every kit face is below NOT_SFACE and
#: dlib's distance to every kit face above NOT_DLIB.
NOT_SFACE, NOT_DLIB = 0.30, 0.50
#: Candidates are drawn in batches of this many, at most MAX_CANDIDATES in all.
BATCH, MAX_CANDIDATES = 64, 2048


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kit", type=Path, default=ROOT.parent / "shared" / "bench" / "detect")
    ap.add_argument("--out", type=Path, default=MODEL)
    ap.add_argument("--sheet", type=Path, help="also write the persons' faces and the model's faces as a PNG")
    ap.add_argument(
        "--check", action="store_true", help="also compare the faces of no one with the kit's faces (SFace, dlib)"
    )
    args = ap.parse_args(argv)
    found = _kit_faces(args.kit)
    faces = [(crop, vector) for crop, vector, _, _ in found]
    people = _people(faces)
    print(f"{len(faces)} faces with landmarks, {len(people)} people", file=sys.stderr)
    samples = np.stack([np.mean([_normalised(f) for f in person], axis=0) for person in people])
    samples = np.concatenate([samples, samples[:, :, ::-1]])  # mirrored
    model = _faces_of_no_one(samples, found)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, model, allow_pickle=False)
    print(f"{args.out}: {model.shape} sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()}")
    if args.sheet:
        people_row = np.clip(samples[: len(people)], 0, 255).astype(np.uint8)
        _sheet([*people_row, *model], args.sheet)
    if args.check:
        _check(model, found)
    return 0


def _check(model: np.ndarray, found: list[tuple[np.ndarray, np.ndarray, np.ndarray, Face]]) -> None:
    """Print how close any face of no one comes to any kit face it was built from, against chance.

    Chance: the closest two kit faces of different people, where two faces count as one
    person when SFace links them, directly or through other faces (so that the chance
    figure is not a person's two photos). The faces of no one are embedded alone, twice
    their size on grey.
    """
    vectors = np.stack([vector for _, vector, _, _ in found])
    linked = vectors @ vectors.T >= SAME_PERSON
    person = list(range(len(found)))
    for i in range(len(found)):  # connected components, by repeated relabelling
        for j in np.flatnonzero(linked[i]):
            old, new = max(person[i], person[j]), min(person[i], person[j])
            person = [new if p == old else p for p in person]
    different = np.array(person)[:, None] != np.array(person)[None, :]
    print(f"{len(set(person))} people among the {len(found)} kit faces when linked through others", file=sys.stderr)
    for name in ("sface", "dlib"):
        recognizer = load_recognizer(name)
        kit = np.stack([recognizer.embed(image, face) for _, _, image, face in found])
        drawn = np.stack([recognizer.embed(photo, face) for photo, face in rendered(model)])
        closest = recognizer.closer(recognizer.similarity_matrix(drawn, kit)).max()
        chance = recognizer.closer(recognizer.similarity_matrix(kit, kit))[different].max()
        sign = 1.0 if recognizer.metric == "cosine" else -1.0
        print(
            f"{name} ({recognizer.metric}, match at {recognizer.threshold}): closest face of no one to a kit face "
            f"{sign * closest:.3f}; closest two kit faces of different people {sign * chance:.3f}"
        )


def rendered(model: np.ndarray) -> list[tuple[np.ndarray, Face]]:
    """Each face of ``model`` alone, twice its size, on a grey 250 x 250 photo, with its landmarks."""
    scale, size = 2, 250
    out = []
    for face in model:
        h, w = face.shape[0] * scale, face.shape[1] * scale
        big = cv2.resize(face, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        alpha = cv2.resize(face_alpha(), (w, h), interpolation=cv2.INTER_LINEAR)[:, :, None]
        photo = np.full((size, size, 3), 128.0, np.float32)
        x0, y0 = (size - w) // 2, (size - h) // 2
        photo[y0 : y0 + h, x0 : x0 + w] = alpha * big + (1 - alpha) * photo[y0 : y0 + h, x0 : x0 + w]
        x1, y1, x2, y2 = CANVAS_BOX
        box = (x1 * scale + x0, y1 * scale + y0, x2 * scale + x0, y2 * scale + y0)
        marks = tuple((x * scale + x0, y * scale + y0) for x, y in LANDMARKS)
        out.append((photo.round().astype(np.uint8), Face(box=box, score=1.0, detector="model", landmarks=marks)))
    return out


def _kit_faces(kit: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, Face]]:
    """The kit's usable unmasked faces: aligned ``CANVAS`` float32 crop, SFace template, photo, face."""
    annotations = json.loads((kit / "annotations.json").read_text())["images"]
    yunet = load_detector("yunet", threshold=0.5, scales=(1.0, 2.0), threads=1)
    sface = load_recognizer("sface")
    out = []
    for item in sorted(annotations, key=lambda i: i["file"]):
        wanted = [f for f in item["faces"] if f["label"] == "without_mask" and f["box"][3] - f["box"][1] >= MIN_HEIGHT]
        if not wanted:
            continue
        image = np.asarray(Image.open(kit / item["file"]).convert("RGB"))
        found = yunet.detect(image)
        for face in wanted:
            box = tuple(float(v) for v in face["box"])
            best = max(found, key=lambda f: iou(f.box, box), default=None)
            if best is None or iou(best.box, box) < 0.4 or best.score < MIN_SCORE or best.landmarks is None:
                continue
            if not _frontal(best) or not _inside(best, image.shape):
                continue
            out.append((_aligned(image, best), sface.embed(image, best), image, best))
    return out


def _frontal(face: Face) -> bool:
    """Both eyes visible on either side of the nose, eyes level within 20 degrees."""
    assert face.landmarks is not None
    (ex1, ey1), (ex2, ey2), (nx, _), *_ = sorted(face.landmarks[:2]) + list(face.landmarks[2:])
    span = ex2 - ex1
    return span > 0 and ex1 + 0.2 * span < nx < ex2 - 0.2 * span and abs(ey2 - ey1) < 0.36 * span


def _inside(face: Face, shape: tuple[int, ...]) -> bool:
    """The whole canvas maps inside the photo (no pixels made up at its border)."""
    matrix = np.vstack([_matrix(face), [0, 0, 1]])
    height, width = CANVAS
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], np.float64)
    back = (np.linalg.inv(matrix) @ corners.T)[:2]
    return bool(back.min() >= 0 and back[0].max() <= shape[1] and back[1].max() <= shape[0])


def _matrix(face: Face) -> np.ndarray:
    """The similarity transform of ``face``'s landmarks onto :data:`LANDMARKS`."""
    assert face.landmarks is not None
    eyes = sorted(face.landmarks[:2])
    mouth = sorted(face.landmarks[3:5])
    points = np.array([*eyes, face.landmarks[2], *mouth], np.float64)
    return similarity(points, np.array(LANDMARKS, np.float64))


def _aligned(image: np.ndarray, face: Face) -> np.ndarray:
    height, width = CANVAS
    return cv2.warpAffine(
        image.astype(np.float32),
        _matrix(face),
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2 x 3 similarity transform (rotation, scale, shift) taking ``src`` closest to ``dst``."""
    a = np.zeros((2 * len(src), 4))
    a[0::2] = np.column_stack([src[:, 0], -src[:, 1], np.ones(len(src)), np.zeros(len(src))])
    a[1::2] = np.column_stack([src[:, 1], src[:, 0], np.zeros(len(src)), np.ones(len(src))])
    (c, s, tx, ty), *_ = np.linalg.lstsq(a, dst.reshape(-1), rcond=None)
    return np.array([[c, -s, tx], [s, c, ty]])


def _people(faces: list[tuple[np.ndarray, np.ndarray]]) -> list[list[np.ndarray]]:
    """The aligned faces grouped by person: SFace match with the group's first face."""
    groups: list[tuple[np.ndarray, list[np.ndarray]]] = []
    for crop, vector in faces:
        for first, members in groups:
            if float(first @ vector) >= SAME_PERSON:
                members.append(crop)
                break
        else:
            groups.append((vector, [crop]))
    return [members for _, members in groups]


def _normalised(crop: np.ndarray) -> np.ndarray:
    """``crop`` with the grey level and contrast inside the face ellipse set to LEVEL, CONTRAST."""
    alpha = face_alpha() > 0.5
    grey = crop @ np.array([0.299, 0.587, 0.114], np.float32)
    mean, std = float(grey[alpha].mean()), max(float(grey[alpha].std()), 1.0)
    return ((crop - mean) * (CONTRAST / std) + LEVEL).astype(np.float32)


def _faces_of_no_one(samples: np.ndarray, found: list[tuple[np.ndarray, np.ndarray, np.ndarray, Face]]) -> np.ndarray:
    """``(COUNT, H, W, 3) uint8``: random mixes of the main components that match no kit face."""
    flat = samples.reshape(len(samples), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    _, singular, components = np.linalg.svd(flat - mean, full_matrices=False)
    spread = singular / np.sqrt(len(flat) - 1)
    k = min(COMPONENTS, len(spread))
    rng = np.random.default_rng(SEED)
    sface, dlib = load_recognizer("sface"), load_recognizer("dlib")
    kit = {r.name: np.stack([r.embed(image, face) for _, _, image, face in found]) for r in (sface, dlib)}
    kept: list[np.ndarray] = []
    drawn = 0
    while len(kept) < COUNT:
        if drawn >= MAX_CANDIDATES:
            raise SystemExit(f"only {len(kept)} of {MAX_CANDIDATES} candidates are no one of the kit")
        coefficients = rng.standard_normal((BATCH, k)) * spread[:k] * SPREAD
        drawn += BATCH
        faces = (mean + coefficients @ components[:k]).reshape(BATCH, *samples.shape[1:]).astype(np.float32)
        sigma, amount = SHARPEN
        faces = np.stack([f + amount * (f - cv2.GaussianBlur(f, (0, 0), sigma)) for f in faces])
        candidates = np.clip(faces, 0, 255).round().astype(np.uint8)
        alone = rendered(candidates)
        closest_sface = sface.similarity_matrix(np.stack([sface.embed(p, f) for p, f in alone]), kit["sface"]).max(1)
        closest_dlib = dlib.similarity_matrix(np.stack([dlib.embed(p, f) for p, f in alone]), kit["dlib"]).min(1)
        kept += [
            c for c, s, d in zip(candidates, closest_sface, closest_dlib, strict=True) if s < NOT_SFACE and d > NOT_DLIB
        ]
    print(f"{COUNT} faces of no one kept of {drawn} candidates", file=sys.stderr)
    return np.stack(kept[:COUNT])


def _sheet(faces: list[np.ndarray], path: Path) -> None:
    height, width = CANVAS
    cols = 16
    rows = (len(faces) + cols - 1) // cols
    sheet = np.zeros((rows * height, cols * width, 3), np.uint8)
    for i, face in enumerate(faces):
        r, c = divmod(i, cols)
        sheet[r * height : (r + 1) * height, c * width : (c + 1) * width] = face
    Image.fromarray(sheet).resize((cols * width * 2, rows * height * 2), Image.NEAREST).save(path)


if __name__ == "__main__":
    sys.exit(main())
