from .base import Format

FORMAT = Format(name="png", pil_format="PNG", extensions=(".png",), animated=True, magic=((0, b"\x89PNG\r\n\x1a\n"),))
