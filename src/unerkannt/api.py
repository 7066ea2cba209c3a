"""The functions of the public API."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .batch import plan, run
from .detect import FaceDetector
from .faces import Face
from .options import ProtectOptions
from .pipeline import build_detector, build_verifier, protect_array, protect_file
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
        from .errors import UsageError

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
) -> Report:
    """Protect files and folders (recursively, tree mirrored) into ``out_dir``.

    Uses ``workers`` processes (``0``: one per core). Failures are recorded in the
    report, never raised; ``report.ok`` says whether every file was protected.

    Raises
    ------
    UsageError
        An input does not exist or ``out_dir`` is inside an input folder.
    """
    options = options or ProtectOptions()
    jobs = plan(inputs, out_dir, options=options, allow_inside_input=allow_inside_input)
    return run(jobs, options=options, workers=workers, overwrite=overwrite, progress=progress)


def detect_faces(
    image: np.ndarray, *, options: ProtectOptions | None = None, detector: FaceDetector | None = None
) -> list[Face]:
    """Faces in an ``(H, W, 3) uint8`` RGB image, with the detectors ``options`` name."""
    options = options or ProtectOptions()
    return (detector or build_detector(options)).detect(image)
