from .base import Format

FORMAT = Format(name="png", pil_format="PNG", extensions=(".png",), animated=True)
