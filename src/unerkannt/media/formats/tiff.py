"""TIFF: pages flagged as reduced-resolution copies are left out; pages may differ in size."""

from __future__ import annotations

from PIL import Image

from .base import Format, Selection

#: NewSubfileType (bit 0: a reduced-resolution version of another page) and the older SubfileType (2: the same).
NEW_SUBFILE_TYPE, SUBFILE_TYPE = 254, 255


class TiffFormat(Format):
    def save_options(self, *, quality: int) -> dict[str, object]:
        return {"compression": "tiff_deflate"}

    def select(self, img: Image.Image) -> Selection:
        """Every page, except those the file flags as reduced-resolution copies.

        Scanners and cameras store a thumbnail page next to the picture and flag it
        (NewSubfileType bit 0). Unflagged pages are pages of a document and are all
        protected, also when they differ in size (only TIFF can write them back so).
        """
        count = int(getattr(img, "n_frames", 1))
        frames, sizes, reduced = [], [], []
        for i in range(count):
            img.seek(i)
            tags = getattr(img, "tag_v2", {})
            if int(tags.get(NEW_SUBFILE_TYPE, 0) or 0) & 1 or tags.get(SUBFILE_TYPE) == 2:
                reduced.append((i, img.size))
            else:
                frames.append(i)
                sizes.append(img.size)
        img.seek(0)
        if not frames:  # only copies: nothing says which is the picture, so all are
            return Selection([i for i, _ in reduced], [s for _, s in reduced])
        notes = [
            f"left out page {i + 1} of the file, {w}x{h} pixels, flagged as a reduced-resolution copy (thumbnail)"
            for i, (w, h) in reduced
        ]
        return Selection(frames, sizes, notes)


FORMAT = TiffFormat(
    name="tiff",
    pil_format="TIFF",
    extensions=(".tif", ".tiff"),
    also_named=(".btf", ".tf8", ".bigtiff"),
    media_type="image/tiff",
    animated=True,
    pages=True,
    magic=((0, b"II*\x00"), (0, b"MM\x00*"), (0, b"II+\x00"), (0, b"MM\x00+")),
)
