from .base import Format

# GIF stores 256 colours a frame; frames are quantized again after protection.
FORMAT = Format(
    name="gif",
    pil_format="GIF",
    extensions=(".gif",),
    media_type="image/gif",
    animated=True,
    icc=False,
    magic=((0, b"GIF87a"), (0, b"GIF89a")),
)
