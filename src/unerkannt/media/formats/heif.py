from .base import Format

FORMAT = Format(
    name="heif",
    pil_format="HEIF",
    extensions=(".heic", ".heif", ".hif"),
    lossy=True,
    greyscale=False,
    magic=((4, b"ftyphei"), (4, b"ftyphev"), (4, b"ftypmif1"), (4, b"ftypmsf1")),
)
