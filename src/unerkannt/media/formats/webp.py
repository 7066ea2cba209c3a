from .base import Format

FORMAT = Format(
    name="webp",
    pil_format="WEBP",
    extensions=(".webp",),
    lossy=True,
    animated=True,
    greyscale=False,
    magic=((8, b"WEBP"),),
)
