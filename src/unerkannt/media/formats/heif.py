"""HEIF (HEIC): the primary picture is protected, pictures of other sizes are left out; libheif orients."""

from __future__ import annotations

from PIL import Image

from .base import Format, Selection


class HeifFormat(Format):
    def select(self, img: Image.Image) -> Selection:
        """The primary picture first, then further pictures of its size.

        A HEIF file can hold several top-level pictures; one is marked primary (what a
        viewer shows). Pictures of another size are previews or companions of it and
        are left out. Thumbnails, depth and auxiliary images are never frames.
        """
        count = int(getattr(img, "n_frames", 1))
        sizes = []
        primary = 0
        for i in range(count):
            img.seek(i)
            sizes.append(img.size)
            if img.info.get("primary"):
                primary = i
        main = sizes[primary]
        order = [primary] + [i for i in range(count) if i != primary]
        frames = [i for i in order if sizes[i] == main]
        notes = [
            f"left out picture {i + 1} of the file, {sizes[i][0]}x{sizes[i][1]} pixels "
            f"(the primary picture is {main[0]}x{main[1]})"
            for i in order
            if sizes[i] != main
        ]
        img.seek(primary)
        return Selection(frames, [main] * len(frames), notes)

    def orientation(self, frame: Image.Image) -> object:
        # libheif applies the file's rotation and mirroring (irot, imir) while decoding;
        # the HEIF standard says those, not an EXIF Orientation tag, orient the picture
        # (pillow-heif resets the tag for that reason).
        return None


FORMAT = HeifFormat(
    name="heif",
    pil_format="HEIF",
    extensions=(".heic", ".heif", ".hif"),
    media_type="image/heif",
    lossy=True,
    greyscale=False,
    brands=(b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"),
    plugin="pillow_heif",
    install="pip install pillow-heif",
)
