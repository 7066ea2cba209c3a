"""Real service processes for the HTTP tests: ``unerkannt serve`` on a free loopback port.

:func:`start` runs the real command (``python -m unerkannt serve ...``), or, with
``fake_delay``, the same command with a :class:`~unerkannt.detect.fake.FakeDetector`
that takes ``fake_delay`` seconds per call (this file run as a script), so that tests
of limits, kills and headers do not wait for models. Every request goes to 127.0.0.1.

The script also takes, from the environment, what the share tests need and the command
does not offer: :data:`CLOCK` names a file holding seconds to add to the server's clock
(a test moves time forward by writing it), :data:`SWEEP` the seconds between sweeps, and
:data:`PAUSE` (``seal:FOLDER`` or ``commit:FOLDER``) makes the server stop in the middle
of sealing a share, or between its file and its row, after touching ``FOLDER/paused``,
so that a test can kill it there.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
CLOCK = "UNERKANNT_TEST_CLOCK"
SWEEP = "UNERKANNT_TEST_SWEEP"
PAUSE = "UNERKANNT_TEST_PAUSE"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    temp: Path

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on its own connection: status, headers (lower-case names), body."""
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def health(self) -> dict[str, object]:
        status, _, body = self.request("GET", "/v1/health", timeout=5)
        assert status == 200, body
        result: dict[str, object] = json.loads(body)
        return result

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def wait_until(self, condition, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("the server did not reach the expected state in time")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@contextmanager
def start(
    temp: Path,
    *args: str,
    fake_delay: float | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[Server]:
    """A server with ``args`` and ``temp`` as its temporary folder, ready to answer; killed afterwards.

    ``log``: a file that gets everything the server writes (its output and its log).
    """
    port = free_port()
    serve = ["serve", "--host", LOOPBACK, "--port", str(port), *args]
    if fake_delay is None:
        cmd = [sys.executable, "-m", "unerkannt", *serve]
    else:
        cmd = [sys.executable, __file__, str(fake_delay), *serve]
    environment = {k: v for k, v in os.environ.items() if k != "UNERKANNT_TOKEN"}
    environment["TMPDIR"] = str(temp)  # the service's temporary files go there
    environment.update(env or {})
    out = log.open("ab") if log is not None else None
    proc = subprocess.Popen(
        cmd,
        stdout=out or subprocess.DEVNULL,
        stderr=out or subprocess.PIPE,
        env=environment,
    )
    server = Server(proc=proc, port=port, temp=temp)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection((LOOPBACK, port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    stderr = proc.stderr.read().decode() if proc.stderr else log.read_text() if log else ""
                    raise RuntimeError(f"the server did not start: {stderr[-2000:]}") from None
                time.sleep(0.05)
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(20)
        if proc.stderr:
            proc.stderr.close()
        if out is not None:
            out.close()


def _main() -> int:
    """``python _service_server.py DELAY serve ...``: ``unerkannt serve`` with a slow fake detector,
    run the way the command runs it (its option parsing and :func:`unerkannt.service.server.serve`)."""
    import numpy as np

    from conftest import FACE_BOX
    from unerkannt.detect.fake import FakeDetector

    class SlowFake(FakeDetector):
        def __init__(self, delay: float) -> None:
            super().__init__([FACE_BOX])
            self.delay = delay

        def detect(self, image: np.ndarray):  # type: ignore[no-untyped-def]
            time.sleep(self.delay)
            return super().detect(image)

    import dataclasses

    from unerkannt.cli import _parser
    from unerkannt.cli.serve import config_from
    from unerkannt.service.server import serve

    args = _parser().parse_args(sys.argv[2:])
    config = config_from(args)
    if os.environ.get(SWEEP):
        config = dataclasses.replace(config, share_sweep_seconds=float(os.environ[SWEEP]))
    clock = None
    if os.environ.get(CLOCK):
        offset_file = Path(os.environ[CLOCK])

        def clock() -> float:
            text = offset_file.read_text().strip() if offset_file.exists() else ""
            return time.time() + float(text or 0)

    if os.environ.get(PAUSE):
        _pause(*os.environ[PAUSE].split(":", 1))
    serve(config, detector=SlowFake(float(sys.argv[1])), clock=clock)
    return 0


def _pause(where: str, folder: str) -> None:
    """Make the share store stop for good at ``where``, after touching ``folder/paused``."""
    from unerkannt.service import shares

    def stop_here() -> None:
        (Path(folder) / "paused").touch()
        time.sleep(3600)

    if where == "seal":
        real_seal = shares.seal

        class HalfThenStop:
            def __init__(self, out) -> None:  # type: ignore[no-untyped-def]
                self.out, self.writes = out, 0

            def write(self, data: bytes) -> int:
                written = self.out.write(data)
                self.writes += 1
                if self.writes == 2:  # the metadata and the first piece of the photo are out
                    self.out.flush()
                    os.fsync(self.out.fileno())
                    stop_here()
                return written

        shares.seal = lambda out, data, **kw: real_seal(HalfThenStop(out), data, **kw)  # type: ignore[assignment]
    elif where == "commit":
        real_write = shares.ShareStore._write

        def write_then_stop(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
            real_write(self, *a, **kw)
            stop_here()

        shares.ShareStore._write = write_then_stop  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown pause {where!r}")


if __name__ == "__main__":
    sys.exit(_main())
