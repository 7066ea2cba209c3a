from .base import Format

#: Sizes of the BMP info headers (core, Windows 3, Adobe's two, OS/2 2, Windows 4 and 5).
_INFO_SIZES = {12, 40, 52, 56, 64, 108, 124}


class BmpFormat(Format):
    def matches(self, head: bytes) -> bool:
        # "BM" alone starts many text files: the reserved fields and the info header size must agree too.
        return head[:2] == b"BM" and head[6:10] == bytes(4) and int.from_bytes(head[14:18], "little") in _INFO_SIZES


FORMAT = BmpFormat(
    name="bmp", pil_format="BMP", extensions=(".bmp",), also_named=(".dib",), media_type="image/bmp", icc=False
)
