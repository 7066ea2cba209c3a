"""Videos: every frame protected, timing and rotation kept, audio policy, no metadata, fail closed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from _videos import read_frames, scene, write_clip
from conftest import require_exiftool
from unerkannt import ProtectOptions
from unerkannt.batch import plan, run
from unerkannt.detect.fake import FakeDetector
from unerkannt.errors import CorruptFileError, DetectionError, MetadataError, OutputExistsError
from unerkannt.faces import Face
from unerkannt.media.video import check_clean_video
from unerkannt.track import Tracker
from unerkannt.videopipeline import protect_video

BOX = (60.0, 40.0, 100.0, 80.0)


class ScriptedDetector:
    """Answers call ``n`` with ``script[n]`` (no faces once the script ends)."""

    name = "scripted"

    def __init__(self, script: list[list[tuple[float, float, float, float]]], *, fail_at: int = -1) -> None:
        self.script = script
        self.fail_at = fail_at
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Face]:
        n = self.calls
        self.calls += 1
        if n == self.fail_at:
            raise DetectionError("scripted failure")
        boxes = self.script[n] if n < len(self.script) else []
        return [Face(box=b, score=0.9, detector=self.name) for b in boxes]


def _options(**changes: object) -> ProtectOptions:
    return ProtectOptions(verify=False).evolve(**changes)


def _hidden(before: np.ndarray, after: np.ndarray, box: tuple[float, ...] = (70, 50, 90, 70)) -> float:
    """Share of the box's pixels changed by more than 12 levels (the benchmark's rule)."""
    x1, y1, x2, y2 = (int(v) for v in box)
    changed = np.abs(before.astype(int) - after.astype(int)).max(axis=2) > 12
    return float(changed[y1:y2, x1:x2].mean())


def _hidden_all(source: Path, output: Path, box: tuple[float, ...] = (70, 50, 90, 70)) -> list[float]:
    before, _, _ = read_frames(source)
    after, _, _ = read_frames(output)
    assert len(before) == len(after)
    return [_hidden(b, a, box) for b, a in zip(before, after, strict=True)]


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "clip.mp4"
    path.parent.mkdir()
    write_clip(path)
    return path


def test_every_frame_filled_and_report_has_tracks(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "clip.mp4"
    result = protect_video(clip, out, options=_options(), detector=FakeDetector([BOX]))
    assert all(h > 0.9 for h in _hidden_all(clip, out))
    data = result.to_json()
    assert data["video"]["frames"] == 20 and data["video"]["audio"] == "none"
    (track,) = data["video"]["tracks"]
    assert track["frames_masked"] == 20 and track["boxes_detected"] == 20
    assert "crop" not in json.dumps(data) and "embedding" not in json.dumps(data)
    assert [p.name for p in out.parent.iterdir()] == ["clip.mp4"]  # no temporary file left


def test_a_guess_held_long_stops_growing_and_drifting() -> None:
    # A small face held until a 4K video's sweep comes back (some 50 frames) stays a
    # mask of at most twice its size near where it was last seen, not half the frame.
    from unerkannt.track import GROW_PER_FRAME, MAX_GROW

    tracker = Tracker(hold=200)
    for frame, x in enumerate([100.0, 104.0]):
        tracker.observe(frame, [Face(box=(x, 10.0, x + 20.0, 30.0), score=0.9, detector="d")])
        tracker.account(frame, {})
    track = tracker.active[0]
    near, far = track.guess(1 + round((MAX_GROW - 1) / GROW_PER_FRAME)), track.guess(200)
    assert far == near
    assert far[2] - far[0] <= MAX_GROW * 20.0 + 2 * 4.0  # twice the size, plus the motion margin
    assert far[0] < 104.0 + 4.0 * 25


def test_tracker_fills_gaps_follows_motion_and_lets_go() -> None:
    tracker = Tracker(hold=3)
    face = lambda x: [Face(box=(x, 10.0, x + 20.0, 30.0), score=0.9, detector="d")]  # noqa: E731
    for frame, x in enumerate([0.0, 5.0, 10.0]):
        tracker.observe(frame, face(x))
        assert [f is not None for _, _, f in tracker.boxes(frame)] == [True]  # detected in this frame
        tracker.account(frame, {})
    # Frames 3 and 4: the detector misses the face; the guess moves on and grows.
    (_, guess3, seen3), (_, guess4, seen4) = tracker.boxes(3)[0], tracker.boxes(4)[0]
    assert seen3 is None and seen4 is None
    tracker.account(3, {})
    tracker.account(4, {})
    assert guess3[0] > 5.0 and guess4[0] + guess4[2] > guess3[0] + guess3[2]
    assert guess4[2] - guess4[0] > guess3[2] - guess3[0] > 20.0
    assert tracker.boxes(6) == []  # more than ``hold`` frames since it was seen
    (track,) = tracker.finish()
    assert track.detections == 3 and track.masked == 5


def test_gap_in_detections_and_face_seen_late_are_masked(tmp_path: Path) -> None:
    # Found in frames 5-9 and 12-14 only: 10 and 11 are guessed, 0-4 back-filled, 15+ held.
    clip = tmp_path / "long.mp4"
    write_clip(clip, frames=32)
    script = [[] for _ in range(5)] + [[BOX]] * 5 + [[], []] + [[BOX]] * 3
    out = tmp_path / "out.mp4"
    result = protect_video(clip, out, options=_options(), detector=ScriptedDetector(script))
    hold = result.video["tracks"][0]["frames_masked"] - 10 if result.video else 0
    assert hold >= 5
    masked = [h > 0.9 for h in _hidden_all(clip, out)]
    assert masked[5:18] == [True] * 13, masked
    assert masked[1:5] == [True] * 4  # the frames before the first detection (look-ahead)
    assert masked[14 + hold + 1 :] == [False] * (32 - 15 - hold)  # the mask is not kept forever


def test_fast_profile_detects_every_third_frame(clip: Path, tmp_path: Path) -> None:
    detector = FakeDetector([BOX])
    protect_video(clip, tmp_path / "out.mp4", options=_options(profile="fast"), detector=detector)
    assert detector.calls == 7
    assert all(h > 0.9 for h in _hidden_all(clip, tmp_path / "out.mp4"))


def test_verifier_finds_what_the_detector_misses_between_its_runs(clip: Path, tmp_path: Path) -> None:
    # The detector sees nothing; the verifier (another family) runs on every k-th
    # original frame in the default profile, and the track covers the frames between.
    from unerkannt.videoplan import VERIFY_EVERY

    every = VERIFY_EVERY["default"]
    assert every > 1
    detector, verifier = FakeDetector([]), FakeDetector([BOX])
    out = tmp_path / "out.mp4"
    result = protect_video(clip, out, options=ProtectOptions(), detector=detector, verifier=verifier)
    assert detector.calls == 20 and verifier.calls == len(range(0, 20, every))
    assert all(h > 0.9 for h in _hidden_all(clip, out))
    assert result.video is not None and result.video["verify_every"] == every
    assert result.video["tracks"][0]["detectors"] == ["fake"]


def test_videos_run_the_8_bit_centerface_and_search_small_frames_enlarged() -> None:
    from unerkannt.detect import load_detector
    from unerkannt.videoplan import VERIFY_UPSCALE, VideoPlan, video_models

    detector = load_detector("centerface", threshold=0.2, scales=(1.0, 2.0), threads=1)
    verifier = load_detector("yunet", threshold=0.5, scales=(1.0,))
    quick, search = video_models(detector, verifier)
    assert quick.name == "centerface-int8" and (quick.threshold, quick.scales, quick.threads) == (0.2, (1.0, 2.0), 1)
    assert search is verifier
    fake, none = FakeDetector([BOX]), None
    assert video_models(fake, none) == (fake, None)  # fakes and multi-detectors as given
    options = ProtectOptions()
    for (width, height), verify in (((640, 360), VERIFY_UPSCALE), ((480, 270), VERIFY_UPSCALE), ((1280, 720), 1.0)):
        plan = VideoPlan(options, width=width, height=height, fps=30, scales=(1.0,))
        # Small frames: the whole frame at its own size every frame, the verifier enlarged; no sweep.
        assert plan.scales == (1.0,) and plan.verify_scale == verify and plan.tiles == []
        assert plan.verifier_passes(0)[0].scales == (verify,)


def test_thorough_profile_verifies_every_frame(clip: Path, tmp_path: Path) -> None:
    verifier = FakeDetector([])
    options = ProtectOptions(profile="thorough")
    protect_video(clip, tmp_path / "out.mp4", options=options, detector=FakeDetector([BOX]), verifier=verifier)
    assert verifier.calls == 20


OTHER = (150.0, 40.0, 190.0, 80.0)


def _consent_of(box: tuple[float, float, float, float], asked: list[list[tuple[float, ...]]]):  # type: ignore[no-untyped-def]
    """A stand-in for the consent rule: the face detected at ``box`` is Ada's; ``asked`` records the calls."""

    def consented(image: np.ndarray, faces: list[Face], registry: str) -> dict[int, str]:
        assert registry == "registry.json"
        asked.append([f.box for f in faces])
        return {i: "Ada" for i, f in enumerate(faces) if f.box == box}

    return consented


def test_consent_leaves_the_matched_face_visible_in_the_frames_it_was_matched(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import unerkannt.core
    import unerkannt.videopipeline as vp

    asked: list[list[tuple[float, ...]]] = []
    monkeypatch.setattr(unerkannt.core, "consented_faces", _consent_of(BOX, asked))
    # The detector misses Ada in frame 10: there her track masks her (no match, no consent).
    script = [[BOX, OTHER] if i != 10 else [OTHER] for i in range(20)]
    out = tmp_path / "out.mp4"
    options = ProtectOptions(consent="registry.json", profile="thorough", scales=(1.0,))
    # The verifier finds both faces on every frame: it must not fill the one left visible.
    result = protect_video(
        clip, out, options=options, detector=ScriptedDetector(script), verifier=FakeDetector([BOX, OTHER])
    )
    ada = _hidden_all(clip, out, (70, 50, 90, 70))
    assert [h < 0.5 for h in ada] == [i != 10 for i in range(20)], ada  # (re-encoding moves a few pixels)
    assert all(h > 0.9 for h in _hidden_all(clip, out, (160, 50, 180, 70)))
    data = result.to_json()
    kept = [f for f in data["faces"] if f["action"] == "visible"]
    assert [f["consent"] for f in kept] == ["Ada"]
    tracks = {t["track"]: t for t in data["video"]["tracks"]}
    assert sorted(t.get("frames_visible", 0) for t in tracks.values()) == [0, 19]
    assert not any("audit" in w or "consent" in w for w in data["warnings"])
    # Ada is checked in every frame she is detected in; the refused face only every few frames.
    assert sum(BOX in boxes for boxes in asked) == 19
    assert sum(OTHER in boxes for boxes in asked) == len(range(0, 20, vp.CONSENT_RECHECK))


def test_variable_frame_rate_timestamps_are_kept(tmp_path: Path) -> None:
    src = tmp_path / "vfr.mp4"
    pts = [0, 40, 80, 200, 210, 220, 500, 540, 1000, 1033]
    write_clip(src, frames=len(pts), pts=pts, time_base=Fraction(1, 1000))
    out = tmp_path / "out.mp4"
    protect_video(src, out, options=_options(), detector=FakeDetector([BOX]))
    _, before, tb_before = read_frames(src)
    _, after, tb_after = read_frames(out)
    assert [p * tb_after for p in after] == [p * tb_before for p in before]


def test_rotation_is_applied_to_the_pixels(clip: Path, tmp_path: Path) -> None:
    exiftool = require_exiftool()
    subprocess.run([exiftool, "-q", "-overwrite_original", "-Rotation=90", str(clip)], check=True)
    shown, _, _ = read_frames(clip)
    assert shown[0].shape == (192, 144, 3)
    out = tmp_path / "out.mp4"
    protect_video(clip, out, options=_options(), detector=FakeDetector([]))
    with av.open(str(out)) as container:
        first = next(container.decode(video=0))
        assert (first.width, first.height, first.rotation) == (144, 192, 0)
    frames, _, _ = read_frames(out)
    assert np.abs(frames[5].astype(int) - shown[5].astype(int)).mean() < 6


def _tagged_clip(tmp_path: Path) -> Path:
    exiftool = require_exiftool()
    src = tmp_path / "in" / "tagged.mp4"
    src.parent.mkdir()
    write_clip(
        src,
        audio=True,
        metadata={"creation_time": "2024-05-01T10:00:00Z", "location": "+48.8577+002.2950/", "title": "Anna"},
    )
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-UserData:Make=Apple",
            "-UserData:Model=iPhone 12 mini",
            "-Keys:GPSCoordinates=48.8577, 2.2950, 35",
            "-Keys:Make=Apple",
            "-Keys:Model=iPhone 12 mini",
            str(src),
        ],
        check=True,
    )
    return src


IDENTIFYING = ("GPS", "Make", "Model", "Location", "Title", "Encoder", "Software", "Anna", "iPhone", "48.85")


def _exif_dump(exiftool: str, path: Path) -> dict[str, object]:
    out = subprocess.run([exiftool, "-j", "-a", "-G1", "-n", str(path)], capture_output=True, text=True, check=True)
    data: dict[str, object] = json.loads(out.stdout)[0]
    return data


def test_container_metadata_does_not_survive(tmp_path: Path) -> None:
    exiftool = require_exiftool()
    src = _tagged_clip(tmp_path)
    before = json.dumps(_exif_dump(exiftool, src))
    assert all(word in before for word in ("GPS", "Make", "iPhone", "48.85", "Anna"))
    with av.open(str(src)) as container:
        assert "creation_time" in container.metadata and container.streams.audio
    out = tmp_path / "out" / "tagged.mp4"
    result = protect_video(src, out, options=_options(), detector=FakeDetector([BOX]))
    assert result.video is not None and result.video["audio"] == "dropped"
    data = _exif_dump(exiftool, out)
    found = [f"{k}={v}" for k, v in data.items() if any(w.lower() in f"{k}={v}".lower() for w in IDENTIFYING)]
    assert found == []
    dates = [v for k, v in data.items() if k.endswith("Date") and not k.startswith("System:")]
    assert dates and all(str(v).startswith("0000:00:00") for v in dates)
    with av.open(str(out)) as container:
        assert not container.streams.audio and len(container.streams) == 1
        assert set(container.metadata) <= {"major_brand", "minor_version", "compatible_brands"}
        assert set(container.streams.video[0].metadata) <= {"language", "handler_name", "vendor_id"}


def test_keep_audio_copies_the_packets_unchanged(tmp_path: Path) -> None:
    src = _tagged_clip(tmp_path)
    out = tmp_path / "out.mp4"
    result = protect_video(src, out, options=_options(keep_audio=True), detector=FakeDetector([BOX]))
    assert result.video is not None and result.video["audio"] == "kept"

    def packets(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(audio=0) if p.size]

    assert packets(out) == packets(src) and len(packets(src)) > 5
    check_clean_video(out, audio=True)
    with pytest.raises(MetadataError, match="audio stream"):
        check_clean_video(out, audio=False)


def test_metadata_check_refuses_tagged_file(tmp_path: Path) -> None:
    src = _tagged_clip(tmp_path)
    with pytest.raises(MetadataError):
        check_clean_video(src, audio=True)


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_clip_gives_no_output(clip: Path, tmp_path: Path, cut: float) -> None:
    data = clip.read_bytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(data[: int(len(data) * cut)])
    faststart = tmp_path / "faststart.mkv"
    write_clip(faststart, container="matroska")  # index first, so the demuxer starts and then runs dry
    faststart.write_bytes(faststart.read_bytes()[: int(faststart.stat().st_size * cut)])
    out_dir = tmp_path / "out"
    for path in (bad, faststart):
        with pytest.raises(CorruptFileError):
            protect_video(path, out_dir / path.name, options=_options(), detector=FakeDetector([BOX]))
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_detector_failure_fails_closed_or_fills_the_frame(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "clip.mp4"
    with pytest.raises(DetectionError, match="frame 7"):
        protect_video(clip, out, options=_options(), detector=ScriptedDetector([[BOX]] * 20, fail_at=7))
    assert list(out.parent.iterdir()) == []
    result = protect_video(
        clip, out, options=_options(fill_unchecked=True), detector=ScriptedDetector([[BOX]] * 20, fail_at=7)
    )
    hidden = _hidden_all(clip, out, (0, 0, 192, 144))
    assert hidden[7] > 0.95 and hidden[0] < 0.5
    assert result.video is not None and result.video["frames_filled_unchecked"] == 1


def test_existing_output_is_kept(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        protect_video(clip, out, options=_options(), detector=FakeDetector([BOX]))
    assert out.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("suffix", "container", "codec"),
    [("mkv", "matroska", "h264"), ("webm", "webm", "vp9"), ("avi", "avi", "h264"), ("mov", "mov", "h264")],
)
def test_containers_round_trip(tmp_path: Path, suffix: str, container: str, codec: str) -> None:
    src = tmp_path / f"clip.{suffix}"
    codec_in = "libx264" if suffix != "webm" else "libvpx-vp9"
    write_clip(src, frames=6, container=container, codec=codec_in, time_base=Fraction(1, 25))
    out = tmp_path / "out" / src.name
    protect_video(src, out, options=_options(), detector=FakeDetector([BOX]))
    with av.open(str(out)) as opened:
        assert opened.streams.video[0].codec_context.name == codec
    hidden = _hidden_all(src, out)
    assert len(hidden) == 6 and all(h > 0.9 for h in hidden)


def test_folders_mix_photos_and_videos(clip: Path, tmp_path: Path) -> None:
    shutil.copy(Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg", clip.parent / "photo.jpg")
    (clip.parent / "notes.txt").write_text("not media")
    jobs = plan([clip.parent], tmp_path / "out", options=_options(format="png"))
    assert sorted(j.output.name for j in jobs if j.output) == ["clip.mp4", "photo.png"]
    report = run(jobs, options=_options(format="png"), detector=FakeDetector([BOX]))
    assert report.ok and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.mp4", "photo.png"]
    video = next(f for f in report.to_json()["files"] if f["input"].endswith(".mp4"))
    assert video["video"]["frames"] == 20 and video["faces"][0]["detector"] == "fake"


@pytest.mark.models
def test_real_detector_hides_the_moving_face_in_every_frame(tmp_path: Path) -> None:
    src = tmp_path / "in" / "walk.mp4"
    src.parent.mkdir()
    written = write_clip(src, frames=24)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "unerkannt", "protect", str(src), "-o", str(out), "--json", "--keep-audio"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["files"][0]["video"]["tracks"]
    frames, _, _ = read_frames(out / "walk.mp4")
    checked = 0
    for i, (before, after) in enumerate(zip(written, frames, strict=True)):
        _, box = scene(i, 24)
        if box is None:
            continue
        x1, y1, x2, y2 = box
        changed = (np.abs(before.astype(int) - after.astype(int)).max(axis=2) > 12)[y1:y2, x1:x2].mean()
        assert changed >= 0.6, f"frame {i}: only {changed:.0%} of the face changed"
        checked += 1
    assert checked >= 15


def test_not_a_video_and_unknown_output_ending_are_refused(tmp_path: Path) -> None:
    fake = tmp_path / "in" / "notes.mp4"
    fake.parent.mkdir()
    fake.write_text("not a video at all\n" * 50)
    empty = tmp_path / "in" / "empty.mov"
    empty.write_bytes(b"")
    report = run(plan([fake.parent], tmp_path / "out", options=_options()), options=_options(), detector=FakeDetector())
    assert [f.error["type"] if f.error else None for f in report.files] == ["corrupt", "corrupt"]
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").rglob("*")) == []


@pytest.mark.models
def test_cli_flags_reach_the_video(tmp_path: Path) -> None:
    from unerkannt.cli import main

    src = tmp_path / "sound" / "clip.mkv"
    src.parent.mkdir()
    write_clip(src, frames=8, audio=True, container="matroska")
    code = main(
        [
            "protect",
            str(src),
            "-o",
            str(tmp_path / "out"),
            "-q",
            "--keep-audio",
            "--crf",
            "30",
            "--report",
            str(tmp_path / "r.json"),
            "--detector",
            "yunet",
            "--no-verify",
        ]
    )
    assert code == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["options"]["keep_audio"] is True and data["options"]["crf"] == 30
    assert data["files"][0]["video"]["audio"] == "kept"
    with av.open(str(tmp_path / "out" / "clip.mkv")) as container:
        assert len(container.streams.audio) == 1


@pytest.mark.models
def test_real_consent_in_a_video_keeps_the_enrolled_face(tmp_path: Path) -> None:
    # The example photo's face, enrolled from the photo itself, large enough for the
    # consent rule's quality gate, in a short clip; after withdrawal it is hidden again.
    from PIL import Image

    import unerkannt
    from _recognition import require_recognition
    from _videos import ASTRONAUT, background

    require_recognition()
    registry = tmp_path / "consent.json"
    unerkannt.enroll("Astronaut", [ASTRONAUT], registry=registry)
    photo = np.asarray(Image.open(ASTRONAUT).convert("RGB").resize((320, 320), Image.Resampling.LANCZOS))
    frames = []
    for i in range(8):
        image = background(480, 360)
        image[20:340, 40 + 4 * i : 360 + 4 * i] = photo
        frames.append(image)
    clip = tmp_path / "clip.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 480, 360, "yuv420p"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    options = ProtectOptions(consent=str(registry))
    result = unerkannt.protect(clip, tmp_path / "out.mp4", options=options)
    data = result.to_json()  # type: ignore[union-attr]
    kept = [t for t in data["video"]["tracks"] if t.get("consent") == "Astronaut"]
    assert kept and kept[0]["frames_visible"] >= 6, data["video"]["tracks"]
    assert any(f["action"] == "visible" and f["consent"] == "Astronaut" for f in data["faces"])

    unerkannt.withdraw("Astronaut", registry=registry)  # withdrawn: hidden in every frame
    again = unerkannt.protect(clip, tmp_path / "again.mp4", options=options).to_json()  # type: ignore[union-attr]
    assert not any(t.get("frames_visible") for t in again["video"]["tracks"])
    before, _, _ = read_frames(clip)
    after, _, _ = read_frames(tmp_path / "again.mp4")
    face = (slice(70, 120), slice(185, 205))  # the face's middle in every frame of the clip
    assert all(_hidden(b[face], a[face], (0, 0, 20, 50)) > 0.9 for b, a in zip(before, after, strict=True))


def test_missing_consent_registry_fails_the_video_closed(clip: Path, tmp_path: Path) -> None:
    from unerkannt.errors import ConsentError

    out = tmp_path / "out.mp4"
    options = _options(consent=str(tmp_path / "no-such-registry.json"))
    with pytest.raises(ConsentError):
        protect_video(clip, out, options=options, detector=FakeDetector([BOX]))
    assert not out.exists() and list(tmp_path.iterdir()) == [clip.parent]


def test_default_video_floor_ignores_the_weakest_detections(clip: Path, tmp_path: Path) -> None:
    # At 0.08 (below the video floor of the default profile) a detection starts no track;
    # the thorough profile, or a threshold given by the user, keeps it.
    from unerkannt.videoplan import VIDEO_MIN_SCORE

    weak = VIDEO_MIN_SCORE["default"] - 0.02
    out = tmp_path / "default.mp4"
    result = protect_video(clip, out, options=_options(), detector=FakeDetector([BOX], score=weak))
    assert result.video is not None and result.video["tracks"] == []
    for options in (_options(profile="thorough", scales=(1.0,)), _options(threshold=0.05)):
        out = tmp_path / f"{options.profile}-{options.threshold}.mp4"
        result = protect_video(clip, out, options=options, detector=FakeDetector([BOX], score=weak))
        assert result.video is not None and len(result.video["tracks"]) == 1
        assert all(h > 0.9 for h in _hidden_all(clip, out))


def test_manual_boxes_and_no_detectors_hold_in_videos(clip: Path, tmp_path: Path) -> None:
    """``detectors=()`` with boxes (what the web page sends): the boxes are hidden in every frame, nothing else."""
    detector = ScriptedDetector([[BOX]] * 20)
    manual = (150.0, 40.0, 190.0, 80.0)
    options = ProtectOptions(detectors=(), verify=False, manual_boxes=(manual,))
    result = protect_video(clip, tmp_path / "out.mp4", options=options, detector=detector)
    assert detector.calls == 0
    assert all(h > 0.9 for h in _hidden_all(clip, tmp_path / "out.mp4", (160, 50, 180, 70)))
    assert all(h < 0.5 for h in _hidden_all(clip, tmp_path / "out.mp4", (70, 50, 90, 70)))
    assert any("no detector ran" in w for w in result.warnings)


def test_a_face_only_the_verifier_finds_beside_a_consented_face_is_hidden(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import unerkannt.core

    monkeypatch.setattr(unerkannt.core, "consented_faces", _consent_of(BOX, []))
    # Inside the region a fill of Ada's face would cover, but not her face: another person.
    small = (60.0, 24.0, 74.0, 38.0)
    out = tmp_path / "out.mp4"
    options = ProtectOptions(consent="registry.json", profile="thorough", scales=(1.0,))
    protect_video(
        clip, out, options=options, detector=ScriptedDetector([[BOX]] * 20), verifier=FakeDetector([BOX, small])
    )
    assert all(h > 0.9 for h in _hidden_all(clip, out, (62, 26, 72, 36)))
    assert all(h < 0.5 for h in _hidden_all(clip, out, (78, 55, 95, 75)))  # Ada stays visible
