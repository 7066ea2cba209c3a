"""Real service processes for the HTTP tests: ``unerkannt serve`` on a free loopback port.

:func:`start` runs the real command (``python -m unerkannt serve ...``), or, with
``fake_delay``, the same command with a :class:`~unerkannt.detect.fake.FakeDetector`
that takes ``fake_delay`` seconds per call (this file run as a script), so that tests
of limits, kills and headers do not wait for models. Every request goes to 127.0.0.1.
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
    temp: Path, *args: str, fake_delay: float | None = None, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """A server with ``args`` and ``temp`` as its temporary folder, ready to answer; killed afterwards."""
    port = free_port()
    serve = ["serve", "--host", LOOPBACK, "--port", str(port), *args]
    if fake_delay is None:
        cmd = [sys.executable, "-m", "unerkannt", *serve]
    else:
        cmd = [sys.executable, __file__, str(fake_delay), *serve]
    environment = {k: v for k, v in os.environ.items() if k != "UNERKANNT_TOKEN"}
    environment["TMPDIR"] = str(temp)  # the service's temporary files go there
    environment.update(env or {})
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment)
    server = Server(proc=proc, port=port, temp=temp)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection((LOOPBACK, port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    stderr = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"the server did not start: {stderr[-2000:]}") from None
                time.sleep(0.05)
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(20)
        if proc.stderr:
            proc.stderr.close()


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

    from unerkannt.cli import _parser
    from unerkannt.cli.serve import config_from
    from unerkannt.service.server import serve

    args = _parser().parse_args(sys.argv[2:])
    serve(config_from(args), detector=SlowFake(float(sys.argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
