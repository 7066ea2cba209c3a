"""Tiny video clips made in the tests from a real face photo moving over a background."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from conftest import ROOT

ASTRONAUT = ROOT / "examples" / "astronaut.jpg"
#: Size of the pasted photo.
SPRITE = 96
#: Where the face is inside the pasted photo (x1, y1, x2, y2), as both detectors find it.
FACE_IN_SPRITE = (33, 11, 52, 34)


def background(width: int, height: int) -> np.ndarray:
    """A smooth gradient with a few blocks: detail, but nothing face-like."""
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack([60 + 120 * xs / width, 80 + 100 * ys / height, 140 - 60 * xs / width], axis=2)
    image[height // 8 : height // 4, width // 10 : width // 3] = (200, 60, 60)
    image[height * 3 // 4 : height * 7 // 8, width // 2 : width * 4 // 5] = (40, 40, 160)
    return image.astype(np.uint8)


def sprite(turn: float = 0.0) -> np.ndarray:
    """The example photo at :data:`SPRITE` pixels, rotated by ``turn`` degrees."""
    img = Image.open(ASTRONAUT).convert("RGB").resize((SPRITE, SPRITE), Image.Resampling.LANCZOS)
    if turn:
        img = img.rotate(turn, resample=Image.Resampling.BILINEAR, fillcolor=(40, 90, 40))
    return np.asarray(img)


def positions(frames: int, width: int) -> list[int]:
    """x of the photo's left edge per frame: enters from the left, crosses, leaves on the right."""
    return [round(-SPRITE * 0.6 + (width + SPRITE * 0.2) * i / max(frames - 1, 1)) for i in range(frames)]


def scene(
    index: int, frames: int, width: int = 192, height: int = 144
) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """Frame ``index`` and the face's box in it (``None`` while the face is mostly outside).

    The photo enters from the left, crosses and leaves on the right; it tilts back
    and forth and is mirrored in the second half (the face turns the other way).
    """
    image = background(width, height)
    x = positions(frames, width)[index]
    y = (height - SPRITE) // 2
    face = sprite(turn=10.0 * np.sin(index / 3))
    fx1, fy1, fx2, fy2 = FACE_IN_SPRITE
    if index >= frames // 2:
        face = face[:, ::-1]
        fx1, fx2 = SPRITE - fx2, SPRITE - fx1
    x1, x2 = max(0, x), min(width, x + SPRITE)
    if x2 > x1:
        image[y : y + SPRITE, x1:x2] = face[:, x1 - x : x2 - x]
    bx1, bx2 = x + fx1, x + fx2
    if min(bx2, width) - max(bx1, 0) < 0.7 * (fx2 - fx1):
        return image, None
    return image, (max(bx1, 0), y + fy1, min(bx2, width), y + fy2)


def write_clip(
    path: Path,
    *,
    frames: int = 20,
    width: int = 192,
    height: int = 144,
    pts: list[int] | None = None,
    time_base: Fraction = Fraction(1, 1000),
    rate: int = 25,
    audio: bool = False,
    metadata: dict[str, str] | None = None,
    codec: str = "libx264",
    container: str | None = None,
) -> list[np.ndarray]:
    """Write a clip of :func:`scene` frames; returns the RGB frames written.

    ``pts`` (in ``time_base`` units) gives variable frame timing; by default frames
    are ``1/rate`` apart.
    """
    pts = pts or [round(i / rate / time_base) for i in range(frames)]
    out = av.open(str(path), "w", format=container)
    if metadata:
        out.metadata.update(metadata)
    video = out.add_stream(codec, rate=rate)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.time_base = time_base
    video.codec_context.time_base = time_base
    if codec == "libx264":
        video.codec_context.options = {"crf": "12", "preset": "ultrafast"}
    if metadata:
        video.metadata.update(metadata)
    sound = out.add_stream("aac", rate=16000) if audio else None
    written = []
    for i in range(frames):
        image, _ = scene(i, frames, width, height)
        written.append(image)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts[i], time_base
        for packet in video.encode(frame):
            out.mux(packet)
    for packet in video.encode(None):
        out.mux(packet)
    if sound is not None:
        seconds = (pts[-1] + 1) * float(time_base)
        samples = np.sin(np.arange(int(16000 * seconds)) * 2 * np.pi * 440 / 16000).astype(np.float32) * 0.3
        for start in range(0, len(samples), 1024):
            chunk = samples[start : start + 1024][None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, start
            for packet in sound.encode(frame):
                out.mux(packet)
        for packet in sound.encode(None):
            out.mux(packet)
    out.close()
    return written


def read_frames(path: Path) -> tuple[list[np.ndarray], list[int], Fraction]:
    """RGB frames (display rotation applied), their pts and the time base of a clip."""
    images, stamps = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            image = frame.to_ndarray(format="rgb24")
            if frame.rotation:
                image = np.rot90(image, k=round(frame.rotation / 90) % 4)
            images.append(image)
            stamps.append(frame.pts)
        time_base = Fraction(stream.time_base)
    return images, stamps, time_base
