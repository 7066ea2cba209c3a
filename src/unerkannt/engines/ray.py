"""The Ray engine: the per-file pipeline of :mod:`unerkannt.batch` on a Ray Data actor pool.

``unerkannt protect --engine ray`` runs here, on a private local Ray instance or, with an
address, on a Ray cluster. It is Ray Data's read, map, write:

* **read**: a Dataset of the planned jobs (:func:`ray.data.from_items`), a few files
  per block (:data:`FILES_PER_BLOCK`). A row holds the file's paths, not its
  pixels: the actor reads the file itself with the pipeline's reader, so that hostile
  input is handled exactly as by the local engine.
* **map**: ``map_batches`` with an actor pool of :class:`ProtectActor` (one CPU and one
  inference thread each). An actor builds its detectors once; their models load on first
  use from the package's model files (detectors pickle as settings and paths, see
  :class:`unerkannt.models.LazyModel`). Each row goes through
  :func:`unerkannt.batch.run_one` (by way of :func:`.worker.protect_for`), which turns
  every failure into a failed result.
* **write**: the pipeline's own write, not one of Ray's ``write_*`` sinks: every output
  is encoded from pixels, re-opened and checked against the metadata allowlist, written to
  a temporary file and linked into place (:func:`unerkannt.media.write_atomic`). Ray's sinks
  write files of their own naming and cannot make that check, so they would break the
  fail-closed guarantee. The output folder must therefore be one file system that every
  node sees at the same path.

On a cluster, every node needs unerkannt installed at the same version (its models are
package files, addressed by path on the node) and the same input and output paths.

A file whose actor process dies (a crash in a native decoder, the kernel's OOM killer, a
node lost) is retried once by a fresh actor, as the local engine reruns the file of a dead
worker in a process of its own; if it dies again the file fails. Ray Data itself would
retry it for ever.

On a private local instance the actors die with the run: Ray stops its instance when the
process that started it dies, an actor dies with its raylet, and an actor publishes no
output once the run is gone (:mod:`.worker`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..batch import FrameProgress, Job, detectors_for
from ..detect import FaceDetector
from ..errors import OutputError, UsageError
from ..options import ProtectOptions
from ..pipeline import failure, options_json
from ..results import FileResult, Report
from .worker import Owner, die_with_parent, protect_for

log = logging.getLogger(__name__)

#: How many times an actor may die on one file before the file fails without a third try.
MAX_ATTEMPTS = 2

#: Files per Ray Data block, the unit an actor takes at a time. Every block costs the
#: driver and Ray's scheduler a few milliseconds: on 2 cores one file per block ran about
#: 20 % slower than four, and the driver would cap a cluster at roughly 150 files/s.
#: Small runs get smaller blocks, so that every actor has several to take.
FILES_PER_BLOCK = 4

_NEEDS_RAY = "the Ray engine needs Ray: pip install 'unerkannt[ray]'"


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise UsageError(_NEEDS_RAY) from exc
    return ray


class _Attempts:
    """Which files were started and which finished (a Ray actor of no CPU).

    Ray Data retries a whole block when its actor dies, so the files of that block
    that had finished are started again (their results were lost with the task); only
    a file that was started and never finished is one its actor died on.
    """

    def __init__(self) -> None:
        self.started: dict[int, int] = {}
        self.unfinished: dict[int, int] = {}

    def begin(self, index: int) -> tuple[int, int]:
        """``(times started before, times an actor died on it)``, and count this start."""
        before, died = self.started.get(index, 0), self.unfinished.get(index, 0)
        self.started[index] = before + 1
        self.unfinished[index] = died + 1
        return before, died

    def finish(self, index: int) -> None:
        self.unfinished[index] -= 1


class ProtectActor:
    """One Ray Data worker: builds the detectors once and protects one file per row.

    Rows are ``index`` (position in the job list), ``source`` and ``output`` (file-system
    encoded paths, so that names that are not valid UTF-8 survive Arrow), ``problem``, ``skipped`` and
    ``existed`` (the output was there before the run). ``owner`` is the run's process
    (see :class:`.worker.Owner`). The result row is ``index`` and
    ``result``, the pickled :class:`FileResult`. Ray already pickles everything it moves
    between these processes, as the local process pool does; the JSON report would round
    the boxes and drop the landmarks, and the results would no longer be the local engine's.
    """

    def __init__(
        self,
        options: ProtectOptions,
        overwrite: bool,
        attempts: Any,
        owner: Owner,
        detector: FaceDetector | None = None,
    ) -> None:
        # The parent is the node's raylet, which a private local instance takes down
        # with the run: then the actor must not finish a file after the run was killed.
        die_with_parent(owner)
        self.options = options
        self.overwrite = overwrite
        self.attempts = attempts
        self.owner = owner
        self.detector, self.verifier = detectors_for(options, detector)

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        import ray

        indexes, results = [], []
        for row in batch.to_pylist():
            index = int(row["index"])
            source = Path(os.fsdecode(row["source"]))
            output = Path(os.fsdecode(row["output"])) if row["output"] is not None else None
            before, died = ray.get(self.attempts.begin.remote(index))
            if died >= MAX_ATTEMPTS:
                result = failure(source, OutputError(f"a Ray worker died on this file {died} times"))
            else:
                # A file started again whose output appeared during this run was written
                # by the earlier attempt (outputs are written atomically): protect it again.
                ours = before > 0 and not row["existed"] and output is not None and output.exists()
                result = protect_for(
                    self.owner,
                    Job(source, output, row["problem"], skipped=row["skipped"]),
                    options=self.options,
                    detector=self.detector,
                    verifier=self.verifier,
                    overwrite=self.overwrite or ours,
                )
            self.attempts.finish.remote(index)  # calls from one actor run in order
            indexes.append(index)
            results.append(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        return {"index": indexes, "result": results}


_quiet = False


def quiet() -> None:
    """Keep Ray's own messages off standard error, for the command line.

    Call before the first run. Ray Data's console log is held at ``ERROR`` and its
    progress bars are off (our progress bar reports); Ray's native core worker logs an
    error-level line for every Ray Data actor pool (its constructor arguments live in
    the object store, harmless here) and a line about its log level while a local
    instance starts: both are silenced. Settings the user made in the environment
    (``RAY_DATA_LOG_LEVEL``, ``RAY_BACKEND_LOG_LEVEL``) are kept.
    """
    global _quiet
    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    _quiet = True


@contextlib.contextmanager
def _native_stderr_muted() -> Iterator[None]:
    # Ray's native code writes to file descriptor 2 directly, past sys.stderr.
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _pool_size(ray: Any, workers: int, files: int) -> int:
    if workers == 0:
        workers = int(ray.cluster_resources().get("CPU", 1))
    return max(1, min(workers, files))


class RayEngine:
    """Protects the jobs on a Ray actor pool.

    ``address`` is a Ray cluster (``HOST:PORT``, or ``auto`` for the one ``ray start``
    joined); ``None`` starts a private local instance for each run and shuts it down at
    its end. When Ray is already initialized in this process, that instance is used and
    ``address`` is ignored.
    """

    def __init__(self, address: str | None = None) -> None:
        self.address = address

    def run(
        self,
        jobs: list[Job],
        *,
        options: ProtectOptions,
        workers: int = 0,
        overwrite: bool = False,
        detector: FaceDetector | None = None,
        progress: Callable[[FileResult], None] | None = None,
        frame_progress: FrameProgress | None = None,
    ) -> Report:
        """Protect every job on a Ray actor pool; the contract of :class:`unerkannt.engines.Engine`.

        Results come back in the order of ``jobs``; every failure of a file is a failed
        :class:`FileResult`, never an exception; ``progress(result)`` is called in this
        process as each file finishes (in the order they finish).

        Parameters
        ----------
        jobs : list of Job
            From :func:`unerkannt.batch.plan`.
        options : ProtectOptions
            ``threads=0`` becomes one inference thread per actor.
        workers : int
            Actors, one CPU each. ``0``: one per core (at most 8) on a local instance, one
            per CPU of the cluster otherwise.
        overwrite : bool
            Replace existing outputs.
        detector : FaceDetector, optional
            Shipped to every actor (pickled) instead of the detectors of ``options``; it
            also verifies. For tests and fakes.
        progress : callable, optional
            Called with each finished file's result.
        frame_progress : callable, optional
            Not called: the frames of a video are protected on an actor.

        Raises
        ------
        UsageError
            Ray is not installed, the cluster cannot be reached, or the engine failed as a
            whole (for instance no actor could start because a node lacks unerkannt). Files
            finished before that were reported to ``progress``; the others were not, and a
            job leaves them pending (an output the engine wrote but did not report is then
            found and recorded by ``--resume``).
        """
        start = time.perf_counter()
        results: list[FileResult | None] = [None] * len(jobs)
        if not jobs:
            return Report(files=[], options=options_json(options))
        address = self.address
        ray = _import_ray()
        started = not ray.is_initialized()
        if started:
            local = address is None
            size = workers or min(len(os.sched_getaffinity(0)), 8)
            try:
                with _native_stderr_muted() if _quiet else contextlib.nullcontext():
                    ray.init(
                        address="local" if local else address,
                        num_cpus=max(1, min(size, len(jobs))) if local else None,
                        include_dashboard=False,
                        log_to_driver=False,
                        logging_level=logging.ERROR,
                    )
            except Exception as exc:
                where = "a local Ray instance" if local else f"the Ray cluster at {address}"
                raise UsageError(f"cannot start or reach {where}: {exc}") from exc
        try:
            size = _pool_size(ray, workers, len(jobs))
            cpus = int(ray.cluster_resources().get("CPU", 0))
            if size > cpus:
                log.warning(
                    "%d Ray workers asked for but the cluster has %d CPU(s); the others wait for CPUs", size, cpus
                )
            log.info("protecting %d file(s) on %d Ray worker(s)", len(jobs), size)
            worker_options = options.evolve(threads=1) if options.threads == 0 else options
            attempts = ray.remote(num_cpus=0)(_Attempts).remote()
            rows = [
                {
                    "index": i,
                    "source": os.fsencode(job.source),
                    "output": os.fsencode(job.output) if job.output is not None else None,
                    "problem": job.problem,
                    "skipped": job.skipped,
                    "existed": job.output is not None and job.output.exists(),
                }
                for i, job in enumerate(jobs)
            ]
            with warnings.catch_warnings():
                # Ray Data warns about its own deprecated settings when it builds its context.
                warnings.simplefilter("ignore", DeprecationWarning)
                blocks = min(len(rows), max(size * 4, -(-len(rows) // FILES_PER_BLOCK)))
                dataset = ray.data.from_items(rows, override_num_blocks=blocks)
            # This run's copy of the context: our progress callback reports, Ray Data prints nothing.
            dataset.context.enable_progress_bars = False
            dataset.context.print_on_execution_start = False
            dataset = dataset.map_batches(
                ProtectActor,
                fn_constructor_kwargs={
                    "options": worker_options,
                    "overwrite": overwrite,
                    "attempts": attempts,
                    "owner": Owner.this_process(parent=False),
                    "detector": detector,
                },
                batch_size=1,
                batch_format="pyarrow",
                num_cpus=1,
                # One block queued behind the running one: no actor idles between blocks, and
                # at the end no actor holds a backlog while another has nothing to do.
                compute=ray.data.ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=2),
            )
            rows_done = iter(dataset.iter_rows())
            while True:
                try:
                    row = next(rows_done)
                except StopIteration:
                    break
                except Exception as exc:
                    raise UsageError(f"the Ray engine stopped: {exc}") from exc
                result: FileResult = pickle.loads(row["result"])
                results[int(row["index"])] = result
                if progress is not None:
                    progress(result)
            missing = [jobs[i].source for i, r in enumerate(results) if r is None]
            if missing:
                raise UsageError(f"the Ray engine returned no result for {len(missing)} file(s), such as {missing[0]}")
        finally:
            if started:
                ray.shutdown()
        report = Report(files=[r for r in results if r is not None], options=options_json(options))
        report.seconds = time.perf_counter() - start
        return report
