from .base import Format

# Pillow's AVIF reader turns the file's rotation and mirroring (irot, imir) into an
# EXIF Orientation tag without applying it; the shared reader applies that tag.
FORMAT = Format(
    name="avif",
    pil_format="AVIF",
    extensions=(".avif",),
    media_type="image/avif",
    lossy=True,
    greyscale=False,
    brands=(b"avif", b"avis"),
)
