"""Many files at once: `lint_file` over a process pool, results in a fixed order.

Workers finish in any order; results are returned in the order of the targets
(sorted by path), so output never changes from run to run or with `--jobs`.
Small runs stay in-process: starting workers costs more than it saves. Workers never
write: a result's new bytes (`FileResult.pending`) go to `on_result`, in this process,
as each chunk arrives.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from inplace_fix.discovery import Target
from inplace_fix.lint import FileResult, LintOptions, lint_file

__all__ = ["IN_PROCESS_MAX", "Job", "default_jobs", "run_many"]

IN_PROCESS_MAX = 24  # below this many files a pool is slower than one process
CHUNKS_PER_WORKER = 6  # enough chunks to balance uneven files, few enough to keep IPC cheap
WRITE_CHUNK_MAX = 64  # files per chunk when results carry new bytes: a chunk's texts are in memory at once


def default_jobs() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


Job = tuple[Target, LintOptions]  # options can differ per file: each path has its own config


def _lint_chunk(chunk: Sequence[tuple[int, Job]]) -> list[tuple[int, FileResult]]:
    return [(index, lint_file(target.path, target.display, options)) for index, (target, options) in chunk]


def _worker_signals(parent: int) -> None:
    """Workers die on SIGTERM/SIGHUP (the parent's raise-SystemExit handler, inherited by fork,
    would leave an idle worker hung on its queues after the parent is gone), and on Linux with
    their parent: one killed with SIGKILL runs no cleanup, and its workers would wait on their
    queues for ever."""
    import signal

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


PR_SET_PDEATHSIG = 1  # prctl(2)


def _context() -> multiprocessing.context.BaseContext:
    # fork shares the already-imported rules with the workers (no re-import per worker);
    # elsewhere (macOS, Windows) fork is unsafe or missing, so use the platform default.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def run_many(
    work: Sequence[Job],
    jobs: int | None = None,
    on_done: Callable[[int], None] | None = None,
    on_result: Callable[[FileResult], FileResult] | None = None,
) -> tuple[FileResult, ...]:
    """`lint_file` for every (target, options) pair; `on_done(n)` is called as each n files finish.

    `on_result` sees each result in this process as it arrives (in no fixed order) and returns
    the one to keep: `migrate --apply` journals a rewrite's new bytes there and drops them.
    """
    jobs = jobs or default_jobs()
    indexed = list(enumerate(work))
    results: dict[int, FileResult] = {}
    keep = on_result or (lambda result: result)
    if jobs > 1 and len(indexed) >= IN_PROCESS_MAX:
        _preload(any(options.fix for _, options in work))
        # Move the imported modules to the permanent generation: the garbage collector
        # then stops re-scanning them on every full collection that parsing triggers
        # (10-25 % of scan's CPU on timm + torchvision); the forked workers inherit it.
        gc.freeze()
        # largest files first, round-robin into chunks: no worker is left with the giants
        by_size = sorted(indexed, key=lambda item: -_size(item[1][0]))
        count = min(len(by_size), jobs * CHUNKS_PER_WORKER)
        if any(options.write for _, options in work):
            count = min(len(by_size), max(count, -(-len(by_size) // WRITE_CHUNK_MAX)))
        chunks = [by_size[i::count] for i in range(count)]
        pending: dict[Future[list[tuple[int, FileResult]]], list[tuple[int, Job]]] = {}
        try:
            with ProcessPoolExecutor(max_workers=min(jobs, count), mp_context=_context(),
                                     initializer=_worker_signals, initargs=(os.getpid(),)) as pool:
                try:
                    pending = {pool.submit(_lint_chunk, chunk): chunk for chunk in chunks}
                    for future in as_completed(pending):
                        chunk = pending.pop(future)
                        results.update((index, keep(result)) for index, result in future.result())
                        del future  # its result holds the chunk's new bytes, handed to `keep` by now
                        if on_done:
                            on_done(len(chunk))
                except BaseException:  # Ctrl-C, SIGTERM: stop the workers now, not after their chunks
                    _stop_workers(pool)
                    raise
        except BrokenProcessPool:
            pass  # a worker died (out of memory, a crash in a native parser): finish in-process
    for index, (target, options) in indexed:
        if index not in results:
            results[index] = keep(lint_file(target.path, target.display, options))
            if on_done:
                on_done(1)
    return tuple(results[index] for index, _ in indexed)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and stop the workers (else they finish their chunks as orphans)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        try:
            process.terminate()
        except (OSError, AttributeError):
            pass


def _preload(fix: bool) -> None:
    """Import the rules (and libcst when rewriting) once, before the fork, not once per worker."""
    import inplace_fix.transforms.api  # noqa: F401

    if fix:
        import libcst  # noqa: F401


def _size(target: Target) -> int:
    try:
        return target.path.stat().st_size
    except OSError:
        return 0
