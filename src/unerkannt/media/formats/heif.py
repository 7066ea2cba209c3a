from .base import Format

FORMAT = Format(
    name="heif", pil_format="HEIF", extensions=(".heic", ".heif", ".hif"), lossy=True, greyscale=False, plugin="heif"
)
