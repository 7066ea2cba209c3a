from .base import Format


class WebpFormat(Format):
    def matches(self, head: bytes) -> bool:
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


FORMAT = WebpFormat(
    name="webp",
    pil_format="WEBP",
    extensions=(".webp",),
    media_type="image/webp",
    lossy=True,
    animated=True,
    greyscale=False,
)
