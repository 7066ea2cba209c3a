"""The exceptions unerkannt raises.

Every error is an :class:`UnerkanntError`; errors of the libraries underneath
(Pillow, PyAV, onnxruntime, OpenCV, the file system) are re-raised as one of these with
``raise ... from exc`` so that callers catch one tree::

    UnerkanntError
    ├── InputError                  the input cannot be used; nothing was written
    │   ├── UnsupportedFormatError  not an image or video format unerkannt reads
    │   ├── CorruptFileError        truncated, damaged or empty file
    │   └── ImageTooLargeError      over the pixel limit (decompression bomb guard)
    ├── DetectionError              a detector failed or could not be loaded
    ├── RecognitionError            a face recognizer failed or is not installed
    ├── ConsentError                the consent registry cannot be read, written or used
    ├── AnonymizationError          a face could not be made unrecognizable
    ├── MetadataError               metadata would survive in the output
    ├── OutputError                 the output cannot be written
    │   └── OutputExistsError       the output exists and overwrite was not asked for
    └── UsageError                  options or paths that contradict each other

A file for which any of these is raised produces no output (fail closed).
"""

from __future__ import annotations


class UnerkanntError(Exception):
    """Base class of every error raised by unerkannt."""

    code = "error"


class InputError(UnerkanntError):
    """The input file or array cannot be protected."""

    code = "input"


class UnsupportedFormatError(InputError):
    """The file is not in a format unerkannt can read and write."""

    code = "unsupported-format"


class CorruptFileError(InputError):
    """The file is empty, truncated or damaged."""

    code = "corrupt"


class ImageTooLargeError(InputError):
    """The image has more pixels than the configured limit."""

    code = "too-large"


class DetectionError(UnerkanntError):
    """A face detector failed, so the file cannot be known to be safe."""

    code = "detection"


class RecognitionError(UnerkanntError):
    """A face recognizer failed, or its models are not installed (``unerkannt[recognition]``)."""

    code = "recognition"


class ConsentError(UnerkanntError):
    """The consent registry is unreadable or unwritable, or an enrollment was refused."""

    code = "consent"


class AnonymizationError(UnerkanntError):
    """A face region could not be anonymized."""

    code = "anonymization"


class MetadataError(UnerkanntError):
    """Identifying metadata would remain in the output."""

    code = "metadata"


class OutputError(UnerkanntError):
    """The protected file could not be written."""

    code = "output"


class OutputExistsError(OutputError):
    """The output path exists and overwriting was not requested."""

    code = "exists"


class UsageError(UnerkanntError):
    """Options or paths that cannot work together."""

    code = "usage"
