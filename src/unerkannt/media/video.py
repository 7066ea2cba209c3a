"""Video in and out with PyAV: decode to RGB with rotation applied, encode from pixels alone.

FFmpeg's libraries come with the PyAV wheel; no ``ffmpeg`` program is needed. The
output holds the protected video stream, optionally the original audio packets
(remuxed, not re-encoded), and nothing else: no subtitle or data streams, no
container or stream metadata beyond what the muxer needs to describe the streams.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    CorruptFileError,
    ImageTooLargeError,
    MetadataError,
    OutputError,
    UnsupportedFormatError,
    UsageError,
)

log = logging.getLogger(__name__)

#: Name ending -> FFmpeg muxer of every video container unerkannt reads and writes.
CONTAINERS: dict[str, str] = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
}
#: Encoder per muxer: H.264 wherever the container takes it, VP9 for WebM.
_ENCODERS = {"mp4": "libx264", "mov": "libx264", "matroska": "libx264", "avi": "libx264", "webm": "libvpx-vp9"}
#: Metadata keys a muxer writes to describe the streams themselves; anything else is refused.
_STRUCTURAL_KEYS = {
    "major_brand",
    "minor_version",
    "compatible_brands",
    "handler_name",
    "vendor_id",
    "language",
    "duration",
    "encoder",
}
#: Values those keys may take when we wrote them (handler names and the like of FFmpeg's muxers).
_STRUCTURAL_VALUES = {
    "handler_name": {"VideoHandler", "SoundHandler"},
    "language": {"und"},
    # Matroska's muxing-app field, which bitexact writing reduces to the library name.
    "encoder": {"Lavf"},
}


def is_video(path: str | Path) -> bool:
    """Whether a file name ends like a supported video container."""
    return Path(path).suffix.lower() in CONTAINERS


#: ISO media brands of videos (MP4, QuickTime, 3GP, M4V); still-image brands (HEIF, AVIF, CR3) are not here.
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"M4VH", b"M4VP",
    b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"3g2b", b"3g2c", b"dash", b"mmp4", b"MSNV", b"XAVC", b"f4v ",
}  # fmt: skip


def container(head: bytes) -> str | None:
    """The name ending of the video container a file starting with ``head`` is in (``None``: no video).

    Tells MP4 and QuickTime (by their ``ftyp`` brand), Matroska and WebM (EBML) and AVI
    (RIFF) apart from everything else, images in ISO media boxes included.
    """
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return ".mov"
        return ".mp4" if brand in _MP4_BRANDS else None
    if head[4:8] in (b"moov", b"mdat", b"wide") and int.from_bytes(head[:4], "big") >= 8:
        return ".mov"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return ".webm" if b"webm" in head[:64] else ".mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    return None


@dataclass(frozen=True, kw_only=True)
class VideoInfo:
    """What is known about a video before decoding it.

    Attributes
    ----------
    width, height : int
        Coded frame size (before a display rotation is applied).
    frames : int
        Frame count from the container header, ``0`` when it does not say.
    fps : Fraction or None
        Average frame rate.
    time_base : Fraction
        Unit of the frame timestamps.
    duration : float
        Seconds, ``0.0`` when unknown.
    codec : str
        Decoder name of the video stream.
    audio : bool
        The file has an audio stream.
    """

    width: int
    height: int
    frames: int
    fps: Fraction | None
    time_base: Fraction
    duration: float
    codec: str
    audio: bool


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index, its timestamp in the stream's time base and RGB pixels."""

    index: int
    pts: int
    image: np.ndarray


class VideoReader:
    """Decode the first video stream of a file to RGB frames.

    Use as a context manager. :meth:`items` yields frames and (with ``audio``) the
    audio packets in file order, so that a writer can interleave them.

    Raises
    ------
    UnsupportedFormatError
        No video stream, or not a container FFmpeg opens.
    CorruptFileError
        The file is truncated or damaged (also raised while decoding).
    ImageTooLargeError
        A frame has more pixels than ``max_pixels``.
    """

    def __init__(self, path: str | Path, *, max_pixels: int, audio: bool = False) -> None:
        import av

        self.path = Path(path)
        try:
            self._container: Any = av.open(str(path), "r", metadata_errors="ignore")
        except av.error.InvalidDataError as exc:
            raise CorruptFileError(f"not a readable video: {exc}") from exc
        except av.FFmpegError as exc:
            raise CorruptFileError(f"cannot open the video: {exc}") from exc
        except OSError as exc:
            raise CorruptFileError(f"cannot open the video: {exc.strerror or exc}") from exc
        try:
            streams = self._container.streams
            if not streams.video:
                raise UnsupportedFormatError("the file has no video stream")
            self.stream = streams.video[0]
            self.stream.thread_type = "AUTO"
            self.audio_stream = streams.audio[0] if audio and streams.audio else None
            ctx = self.stream.codec_context
            if not ctx.width or not ctx.height:
                raise CorruptFileError("the video stream has no frame size")
            if ctx.width * ctx.height > max_pixels:
                raise ImageTooLargeError(
                    f"frames of {ctx.width}x{ctx.height} pixels are over the limit of {max_pixels}"
                )
            duration = float(self._container.duration / 1_000_000) if self._container.duration else 0.0
            self.info = VideoInfo(
                width=ctx.width,
                height=ctx.height,
                frames=int(self.stream.frames or 0),
                fps=_fraction(self.stream.average_rate),
                time_base=_fraction(self.stream.time_base) or Fraction(1, 90000),
                duration=duration,
                codec=ctx.name,
                audio=bool(streams.audio),
            )
        except BaseException:
            self._container.close()
            raise
        self.max_pixels = max_pixels

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def items(self) -> Iterator[Frame | Any]:
        """Yield :class:`Frame` objects and, with ``audio``, ``av.Packet`` s of the audio stream.

        Timestamps missing in the file are counted on from the previous frame.

        Raises
        ------
        CorruptFileError
            A packet could not be demuxed or decoded, a frame is flagged corrupt, or
            fewer frames came out than the header announced (a truncated file).
        """
        import av

        streams = [self.stream] + ([self.audio_stream] if self.audio_stream is not None else [])
        index = 0
        last_pts: int | None = None
        step = _frame_step(self.info)
        last_duration = step
        try:
            for packet in self._container.demux(streams):
                if packet.stream is not self.stream:
                    if packet.dts is not None:
                        yield packet
                    continue
                for frame in packet.decode():
                    if frame.is_corrupt:
                        raise CorruptFileError(f"frame {index} is damaged")
                    pts = frame.pts if frame.pts is not None else (0 if last_pts is None else last_pts + step)
                    if last_pts is not None and pts <= last_pts:
                        pts = last_pts + 1
                    last_pts = pts
                    last_duration = frame.duration or step
                    yield Frame(index, pts, self._rgb(frame))
                    index += 1
        except av.FFmpegError as exc:
            raise CorruptFileError(f"cannot decode frame {index}: {exc}") from exc
        if index == 0 or last_pts is None:
            raise CorruptFileError("the video has no decodable frame")
        if not self._check_duration(last_pts + last_duration) and self.info.frames and index < self.info.frames:
            # No duration to compare with: the frame count of the header decides. (With
            # a duration, fewer frames are fine: edit lists may hide some.)
            raise CorruptFileError(f"only {index} of {self.info.frames} frames could be decoded (truncated file?)")

    def _check_duration(self, end_pts: int) -> bool:
        """Raise if the stream ended early; ``False`` when the file declares no duration."""
        # Containers without a frame count (Matroska, WebM) still say how long the
        # stream is; a stream that runs dry well before that was cut off.
        tb = self.info.time_base
        start = self.stream.start_time or 0
        decoded = float((end_pts - start) * tb)
        period = 1 / float(self.info.fps) if self.info.fps else 0.04
        declared, slack = _declared_duration(self.stream), 0.5 * period + 0.005
        if declared is None:
            # Only the whole file's duration: audio may outlast the video a little.
            declared, slack = self.info.duration or None, 0.5
        if declared is None:
            return False
        if decoded < declared - slack:
            raise CorruptFileError(
                f"the video stream ends at {decoded:.2f} s but should last {declared:.2f} s (truncated file?)"
            )
        return True

    def _rgb(self, frame: Any) -> np.ndarray:
        image = frame.to_ndarray(format="rgb24")
        # The display matrix (phones record portrait video as rotated landscape)
        # is applied to the pixels, so that what players show is what was checked.
        rotation = frame.rotation
        if rotation % 360:
            image = np.ascontiguousarray(np.rot90(image, k=round(rotation / 90) % 4))
        if image.shape[0] * image.shape[1] > self.max_pixels:
            raise ImageTooLargeError("a frame is over the pixel limit")
        return image  # type: ignore[no-any-return]


def _declared_duration(stream: Any) -> float | None:
    """Seconds the container says the stream lasts, or ``None``."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        with contextlib.suppress(ValueError):
            h, m, sec = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(sec)
    return None


def _fraction(value: Any) -> Fraction | None:
    return Fraction(value) if value else None


def _frame_step(info: VideoInfo) -> int:
    if info.fps:
        return max(1, round(1 / (info.fps * info.time_base)))
    return 1


class VideoWriter:
    """Encode RGB frames into a new container, and remux audio packets, with no metadata.

    Parameters
    ----------
    path : Path
        Where to write (a temporary file; see :func:`unerkannt.media.write.atomic_output`).
    container : str
        FFmpeg muxer name, a value of :data:`CONTAINERS`.
    width, height : int
        Frame size.
    time_base : Fraction
        Time base of the input video stream; timestamps are copied unchanged.
    fps : Fraction or None
        Average rate, a hint for the encoder's rate control.
    crf : int
        Constant rate factor (0-51, lower is better quality).
    audio : av stream or None
        Input audio stream whose packets will be remuxed.

    Raises
    ------
    OutputError
        The encoder or muxer cannot be set up or fails.
    UsageError
        The audio codec cannot be stored in this container.
    """

    def __init__(
        self,
        path: Path,
        *,
        container: str,
        width: int,
        height: int,
        time_base: Fraction,
        fps: Fraction | None,
        crf: int,
        audio: Any = None,
    ) -> None:
        import av

        self._av = av
        encoder = _ENCODERS[container]
        try:
            # bitexact: no "encoder" tag, no FFmpeg version strings in the container.
            out: Any = av.open(str(path), "w", format=container, options={"fflags": "+bitexact"})
        except av.FFmpegError as exc:
            raise OutputError(f"cannot create the output: {exc}") from exc
        self._out = out
        try:
            video: Any = out.add_stream(encoder, rate=fps if fps else None)
            self.video = video
            self.video.width, self.video.height = width + width % 2, height + height % 2
            self.video.pix_fmt = "yuv420p"
            self.video.time_base = time_base
            self.video.codec_context.time_base = time_base
            self.video.thread_type = "AUTO"
            options = {"crf": str(crf)}
            if encoder == "libx264":
                # veryfast with its cheapest motion search: a third less encoder time than
                # veryfast (which keeps a 640x360 clip in real time on two cores) for files
                # about 14 % larger; superfast saves no more and makes them 70 % larger.
                options.update({"preset": "veryfast", "x264-params": "me=dia:subme=1"})
            else:
                options.update({"b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"})
            self.video.codec_context.options = options
            self.video.metadata.clear()
            self.audio = None
            self._audio_in = audio
            if audio is not None:
                try:
                    self.audio = self._out.add_stream_from_template(audio)
                except (av.FFmpegError, ValueError) as exc:
                    raise UsageError(
                        f"the audio ({audio.codec_context.name}) cannot be kept in {container}: {exc}"
                    ) from exc
                self.audio.metadata.clear()
            self._out.metadata.clear()
            self._even = (width % 2, height % 2)
        except BaseException:
            with contextlib.suppress(Exception):
                self._out.close()
            raise

    def write(self, pts: int, image: np.ndarray) -> None:
        """Encode one ``(H, W, 3) uint8`` RGB frame shown at ``pts`` (input time base)."""
        av = self._av
        if self._even != (0, 0):
            # yuv420p needs even sizes: repeat the last column/row.
            image = np.pad(image, ((0, self._even[1]), (0, self._even[0]), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = pts
        frame.time_base = self.video.time_base
        try:
            for packet in self.video.encode(frame):
                self._out.mux(packet)
        except av.FFmpegError as exc:
            raise OutputError(f"cannot encode the video: {exc}") from exc

    def mux_audio(self, packet: Any) -> None:
        """Copy one audio packet of the input unchanged."""
        if self.audio is None:
            return
        packet.stream = self.audio
        try:
            self._out.mux(packet)
        except self._av.FFmpegError as exc:
            raise OutputError(f"cannot copy the audio: {exc}") from exc

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        av = self._av
        try:
            for packet in self.video.encode(None):
                self._out.mux(packet)
            self._out.close()
        except av.FFmpegError as exc:
            raise OutputError(f"cannot finish the video: {exc}") from exc

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._out.close()


def check_clean_video(path: Path, *, audio: bool) -> None:
    """Re-open a written video and refuse it if anything but pixels (and audio) is in it.

    An allowlist: one video stream, an audio stream only when ``audio``, the keys the
    muxer needs to describe its streams (:data:`_STRUCTURAL_KEYS`), no side data such
    as a display matrix, no attachments or chapters.

    Raises
    ------
    MetadataError
        Anything else was found.
    """
    import av

    found: list[str] = []
    try:
        with av.open(str(path), "r", metadata_errors="ignore") as container:
            found += _extra_keys("container", container.metadata)
            kinds = [s.type for s in container.streams]
            if kinds.count("video") != 1:
                found.append(f"{kinds.count('video')} video streams")
            if kinds.count("audio") > (1 if audio else 0):
                found.append("an audio stream")
            others = [k for k in kinds if k not in ("video", "audio")]
            if others:
                found.append(f"{', '.join(others)} streams")
            for stream in container.streams:
                found += _extra_keys(f"{stream.type} stream", stream.metadata)
            first = next(container.decode(video=0), None)
            if first is None:
                found.append("no decodable frame")
            elif first.rotation:
                found.append("a display matrix")
            if getattr(container, "chapters", None) and container.chapters():
                found.append("chapters")
    except av.FFmpegError as exc:
        raise OutputError(f"the written video cannot be read back: {exc}") from exc
    if found:
        raise MetadataError(f"metadata would remain in the output: {', '.join(found)}")


def _extra_keys(where: str, metadata: dict[str, str]) -> list[str]:
    extra = []
    for key, value in metadata.items():
        k = key.lower()
        if k not in _STRUCTURAL_KEYS or (k in _STRUCTURAL_VALUES and value not in _STRUCTURAL_VALUES[k]):
            extra.append(f"{where} tag {key}")
    return extra
