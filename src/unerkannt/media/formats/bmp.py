from .base import Format

FORMAT = Format(name="bmp", pil_format="BMP", extensions=(".bmp",), icc=False, magic=((0, b"BM"),))
