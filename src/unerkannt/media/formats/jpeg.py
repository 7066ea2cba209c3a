from .base import Format


class JpegFormat(Format):
    def save_options(self, *, quality: int) -> dict[str, object]:
        # 4:2:0 as cameras write it; full chroma resolution at the highest qualities.
        return {"quality": quality, "subsampling": 2 if quality < 95 else 0}


FORMAT = JpegFormat(
    name="jpeg",
    pil_format="JPEG",
    extensions=(".jpg", ".jpeg", ".jpe", ".jfif"),
    lossy=True,
    alpha=False,
    magic=((0, b"\xff\xd8"),),
    also_reads=("MPO",),
)
