from .base import Format

FORMAT = Format(
    name="avif",
    pil_format="AVIF",
    extensions=(".avif",),
    lossy=True,
    greyscale=False,
    magic=((4, b"ftypavif"), (4, b"ftypavis")),
)
