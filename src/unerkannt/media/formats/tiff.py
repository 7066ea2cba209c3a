from .base import Format


class TiffFormat(Format):
    def save_options(self, *, quality: int) -> dict[str, object]:
        return {"compression": "tiff_deflate"}


FORMAT = TiffFormat(
    name="tiff",
    pil_format="TIFF",
    extensions=(".tif", ".tiff"),
    animated=True,
    magic=((0, b"II*\x00"), (0, b"MM\x00*")),
)
