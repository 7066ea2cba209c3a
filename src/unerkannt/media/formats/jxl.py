"""JPEG XL through pillow-jxl-plugin (``unerkannt[jxl]``; GPL-3.0, so not installed by default)."""

from __future__ import annotations

from PIL import Image

from .base import ORIENTATION, Format


class JxlFormat(Format):
    def save_options(self, *, quality: int) -> dict[str, object]:
        # use_container=False: a bare codestream, which has no room for Exif or XMP boxes.
        return {"quality": quality, "lossless_jpeg": False, "use_container": False}

    def orientation(self, frame: Image.Image) -> object:
        # libjxl applies the orientation of the codestream header while decoding; an
        # Exif box's tag is ignored, as the JPEG XL standard says. A recompressed JPEG
        # is handed back as that JPEG, whose own Exif tag then still applies.
        return frame.getexif().get(ORIENTATION) if getattr(frame, "jpeg", False) else None


FORMAT = JxlFormat(
    name="jxl",
    pil_format="JXL",
    extensions=(".jxl",),
    media_type="image/jxl",
    lossy=True,
    icc=False,  # the plugin writes no ICC profile
    magic=((0, b"\xff\x0a"), (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n")),
    plugin="pillow_jxl",
    install="pip install 'unerkannt[jxl]'",
)
