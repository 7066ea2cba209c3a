from .base import Format


class TiffFormat(Format):
    def save_options(self, *, quality: int) -> dict[str, object]:
        return {"compression": "tiff_deflate"}


FORMAT = TiffFormat(name="tiff", pil_format="TIFF", extensions=(".tif", ".tiff"), animated=True)
