"""The functions of the public API."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from .auditing import AuditOptions, AuditResult, Found
from .batch import plan, run
from .consent import Person
from .detect import FaceDetector
from .errors import UnerkanntError, UsageError
from .faces import Face
from .options import ProtectOptions
from .pipeline import build_detector, build_verifier, protect_array, protect_file
from .recognize import Recognizer
from .results import FileResult, ProtectedImage, Report


def protect(
    source: str | Path | np.ndarray,
    output: str | Path | None = None,
    *,
    options: ProtectOptions | None = None,
    detector: FaceDetector | None = None,
    overwrite: bool = False,
) -> ProtectedImage | FileResult:
    """Make every face in an image unrecognizable.

    Parameters
    ----------
    source : path or (H, W, 3) uint8 ndarray
        An image file, or RGB pixels.
    output : path, optional
        Where to write the protected file; required when ``source`` is a path.
    options : ProtectOptions, optional
        Method, detection profile, output format ... (defaults: fill, default profile).
    detector : FaceDetector, optional
        A detector to use instead of the one ``options`` names (reuse one across
        calls to load its model once, or pass a fake in tests); it then also
        does the verification pass.
    overwrite : bool
        Replace an existing ``output``.

    Returns
    -------
    ProtectedImage
        For an array: the new pixels and the faces.
    FileResult
        For a file: what was written and the faces.

    Raises
    ------
    UnerkanntError
        Anything went wrong; for a file, nothing was written.

    Examples
    --------
    >>> import numpy as np, unerkannt
    >>> from unerkannt.detect.fake import FakeDetector
    >>> pixels = np.full((64, 64, 3), 200, np.uint8)
    >>> result = unerkannt.protect(pixels, detector=FakeDetector([(16, 16, 48, 48)]))
    >>> [f.action for f in result.faces], bool((result.image != pixels).any())
    (['fill'], True)
    """
    options = options or ProtectOptions()
    verifier = None  # a given detector also verifies
    if detector is None:
        detector, verifier = build_detector(options), build_verifier(options)
    if isinstance(source, np.ndarray):
        return protect_array(source, options=options, detector=detector, verifier=verifier)
    if output is None:
        raise UsageError("protect(path) needs an output path")
    return protect_file(source, output, options=options, detector=detector, verifier=verifier, overwrite=overwrite)


def protect_files(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    *,
    options: ProtectOptions | None = None,
    workers: int = 0,
    overwrite: bool = False,
    allow_inside_input: bool = False,
    progress: Callable[[FileResult], None] | None = None,
    engine: str = "local",
    ray_address: str | None = None,
) -> Report:
    """Protect files and folders (recursively, tree mirrored) into ``out_dir``.

    Uses ``workers`` processes (``0``: one per core), or with ``engine="ray"`` as many
    Ray actors, on a private local Ray instance or the cluster at ``ray_address``
    (``unerkannt[ray]``). Failures are recorded in the report, never raised;
    ``report.ok`` says whether every file was protected.

    Raises
    ------
    UsageError
        An input does not exist, ``out_dir`` is inside an input folder, or the engine
        settings are wrong (see :func:`unerkannt.batch.run`).
    """
    options = options or ProtectOptions()
    jobs = plan(inputs, out_dir, options=options, allow_inside_input=allow_inside_input)
    return run(
        jobs,
        options=options,
        workers=workers,
        overwrite=overwrite,
        progress=progress,
        engine=engine,
        ray_address=ray_address,
    )


def detect_faces(
    image: np.ndarray, *, options: ProtectOptions | None = None, detector: FaceDetector | None = None
) -> list[Face]:
    """Faces in an ``(H, W, 3) uint8`` RGB image, with the detectors ``options`` name."""
    options = options or ProtectOptions()
    return (detector or build_detector(options)).detect(image)


def _audit_parts(options: AuditOptions) -> tuple[FaceDetector, FaceDetector, list[Recognizer]]:
    from .recognize import shared_recognizer

    detector = build_detector(ProtectOptions(detectors=options.detectors, threshold=options.threshold))
    checker = build_detector(ProtectOptions(detectors=options.check_detectors, threshold=options.check_threshold))
    return detector, checker, [shared_recognizer(n) for n in options.recognizers]


def audit(
    original: str | Path | np.ndarray,
    protected: str | Path | np.ndarray,
    *,
    gallery: Iterable[str | Path] | None = None,
    options: AuditOptions | None = None,
) -> AuditResult:
    """Would a face-search engine still find the people of ``original`` in ``protected``?

    For every face of ``original``: whether a detector still finds a face there, each
    recognizer's score of the protected face against the original face (at the original's
    position and landmarks) with its verdict, and with ``gallery`` (photos or folders of
    other people) the rank of the original face in a 1:N search. Templates live in memory
    only, for the duration of the call.

    Parameters
    ----------
    original, protected : path or (H, W, 3) uint8 ndarray
        The photo before and after protection (same size).
    gallery : iterable of paths, optional
        Other people's photos: distractors of the search.
    options : AuditOptions, optional

    Returns
    -------
    AuditResult
        ``result.ok`` is false when some face is still re-identifiable.

    Raises
    ------
    UnerkanntError
        A file cannot be read, the images differ in size, or a model failed
        (``RecognitionError`` when the ``recognition`` extra is not installed).
    """
    from .auditing import audit_images, build_gallery
    from .auditing.core import read_frames

    options = options or AuditOptions()
    detector, checker, recognizers = _audit_parts(options)
    names = (_name(original), _name(protected))
    first, second = _pixels(original, options.max_pixels), _pixels(protected, options.max_pixels)
    search = None
    if gallery is not None:
        images = read_frames(gallery, max_pixels=options.max_pixels)
        search = build_gallery(images, detector=detector, recognizers=recognizers)
    return audit_images(
        first, second, detector=detector, checker=checker, recognizers=recognizers, gallery=search, names=names
    )


def _pixels(source: str | Path | np.ndarray, max_pixels: int) -> np.ndarray:
    if isinstance(source, np.ndarray):
        return source
    from .media import read_image

    return read_image(source, max_pixels=max_pixels).frames[0]


def _name(source: str | Path | np.ndarray) -> str:
    return "(array)" if isinstance(source, np.ndarray) else str(source)


def enroll(
    name: str,
    photos: Sequence[str | Path],
    *,
    registry: str | Path | None = None,
    options: AuditOptions | None = None,
) -> Person:
    """Enroll ``name`` into the consent registry from reference photos of them alone.

    Stores one template per photo for each recognizer, the name and today's date as the
    date of consent; no photo. The registry file (``registry``, else ``$UNERKANNT_CONSENT``,
    else the per-user default) is written with owner-only permissions.

    Raises
    ------
    InputError
        A photo cannot be read or does not show exactly one face.
    ConsentError
        The registry cannot be read or written, or the name is empty.
    RecognitionError
        The ``recognition`` extra is not installed or a recognizer failed.
    """
    from .consent import Registry
    from .recognize.templates import reference_templates

    options = options or AuditOptions()
    detector, _, recognizers = _audit_parts(options)
    book = Registry.open(registry)
    templates = reference_templates(photos, detector=detector, recognizers=recognizers, max_pixels=options.max_pixels)
    person = book.add(name, templates)
    book.save()
    return person


def withdraw(name: str, *, registry: str | Path | None = None) -> None:
    """Remove ``name`` and their templates from the consent registry at once.

    Raises
    ------
    ConsentError
        Nobody of that name is enrolled, or the registry cannot be read or written.
    """
    from .consent import Registry

    book = Registry.open(registry, must_exist=True)
    book.remove(name)
    book.save()


def find(
    reference: Sequence[str | Path],
    folders: Sequence[str | Path],
    *,
    options: AuditOptions | None = None,
) -> list[Found]:
    """Where the person of the ``reference`` photos appears in ``folders`` (recursively).

    Returns one :class:`~unerkannt.auditing.Found` per file: the faces that any recognizer
    matches to the reference at its usual threshold, or the error that kept the file from
    being searched. Nothing is indexed or kept.

    Raises
    ------
    InputError
        A reference photo does not show exactly one face.
    UsageError
        A folder does not exist.
    """
    from .auditing import match_reference
    from .media import is_candidate, read_image
    from .recognize.templates import reference_templates

    options = options or AuditOptions()
    detector, _, recognizers = _audit_parts(options)
    templates = reference_templates(
        reference, detector=detector, recognizers=recognizers, max_pixels=options.max_pixels
    )
    found: list[Found] = []
    for folder in folders:
        root = Path(folder)
        if not root.exists():
            raise UsageError(f"not found: {root}")
        files = sorted(p for p in root.rglob("*") if p.is_file() and is_candidate(p)) if root.is_dir() else [root]
        for file in files:
            try:
                image = read_image(file, max_pixels=options.max_pixels).frames[0]
                faces = match_reference(image, templates, detector=detector, recognizers=recognizers)
                found.append(Found(path=str(file), faces=[f for f in faces if f.match]))
            except UnerkanntError as exc:
                found.append(Found(path=str(file), faces=[], error={"type": exc.code, "message": str(exc)}))
    return found
