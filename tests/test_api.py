"""The public API: its members, its import cost, its options."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import unerkannt
from unerkannt import ProtectOptions, UsageError

EXPORTED = {
    "AnonymizationError",
    "AuditOptions",
    "AuditResult",
    "ConsentError",
    "CorruptFileError",
    "DetectionError",
    "Face",
    "FaceRecord",
    "FileResult",
    "ImageTooLargeError",
    "InputError",
    "MetadataError",
    "OutputError",
    "OutputExistsError",
    "ProtectOptions",
    "ProtectedImage",
    "RecognitionError",
    "Report",
    "UnerkanntError",
    "UnsupportedFormatError",
    "UsageError",
    "__version__",
    "audit",
    "detect_faces",
    "enroll",
    "find",
    "protect",
    "protect_files",
    "withdraw",
}


def test_all_is_pinned() -> None:
    assert set(unerkannt.__all__) == EXPORTED
    from importlib.metadata import version

    assert unerkannt.__version__ == version("unerkannt")
    for name in sorted(EXPORTED - {"__version__"}):
        member = getattr(unerkannt, name)
        # Each name is unerkannt's own function or class, under the name it is exported as.
        assert callable(member) and member.__module__.startswith("unerkannt.") and member.__name__ == name, name
        if name.endswith("Error"):
            assert issubclass(member, unerkannt.UnerkanntError), name


def test_import_loads_no_model_or_heavy_library() -> None:
    code = (
        "import sys, unerkannt; "
        "heavy = [m for m in ('onnxruntime', 'cv2', 'PIL', 'numpy', 'pillow_heif', 'tqdm') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    # numpy comes with the Face type hints module; no inference runtime, OpenCV or Pillow.
    assert not {"onnxruntime", "cv2", "PIL", "pillow_heif", "tqdm"} & set(out.split(","))


def test_errors_form_one_tree() -> None:
    for name in EXPORTED:
        obj = getattr(unerkannt, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, unerkannt.UnerkanntError)


@pytest.mark.parametrize(
    "changes",
    [
        {"profile": "slow"},
        {"enlarge": 0.5},
        {"quality": 0},
        {"threshold": 1.5},
        {"scales": ()},
        {"max_pixels": 0},
    ],
)
def test_bad_options_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        ProtectOptions(**changes)  # type: ignore[arg-type]


def test_no_detectors_hides_only_the_given_boxes() -> None:
    """``detectors=()``: the caller (the web page) chose the faces; nothing else is hidden."""
    from unerkannt.pipeline import build_detector, protect_array

    pixels = np.full((64, 64, 3), 200, np.uint8)
    options = ProtectOptions(detectors=(), verify=False, manual_boxes=((4.0, 4.0, 20.0, 20.0),))
    result = protect_array(pixels, options=options, detector=build_detector(options))
    assert [(f.face.detector, f.action) for f in result.faces] == [("manual", "fill")]
    assert (result.image[40:, 40:] == 200).all()
    assert any("no detector ran" in w for w in result.warnings)


def test_options_are_frozen_and_keyword_only() -> None:
    options = ProtectOptions()
    with pytest.raises(AttributeError):
        options.method = "blur"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ProtectOptions("fill")  # type: ignore[misc]
    assert options.evolve(method="blur").method == "blur"
    assert options.detection_scales == (1.0,) and options.detection_threshold == 0.065


def test_unknown_method_and_detector_are_usage_errors() -> None:
    from unerkannt.detect.fake import FakeDetector

    image = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(UsageError):
        unerkannt.protect(image, options=ProtectOptions(method="smudge"), detector=FakeDetector())
    with pytest.raises(UsageError):
        unerkannt.protect(image, options=ProtectOptions(detectors=("nope",)))


def test_protect_path_needs_output(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from unerkannt.detect.fake import FakeDetector

    with pytest.raises(UsageError):
        unerkannt.protect(tmp_path / "x.jpg", detector=FakeDetector())


def test_an_output_named_like_another_format_is_refused(tmp_path, photo) -> None:  # type: ignore[no-untyped-def]
    from unerkannt.detect.fake import FakeDetector

    with pytest.raises(UsageError, match="JPEG"):
        unerkannt.protect(photo, tmp_path / "out.png", detector=FakeDetector([]))
    assert not (tmp_path / "out.png").exists()
    result = unerkannt.protect(
        photo, tmp_path / "out.png", options=ProtectOptions(format="png"), detector=FakeDetector([])
    )
    assert result.ok and (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # type: ignore[union-attr]
