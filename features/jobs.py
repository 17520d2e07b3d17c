"""Run independent jobs (one model to train, one model to score) in this process or in a process pool.

Tiny models do not keep several CPU threads busy: one single-threaded process per core is about
twice as fast as one process with two threads. Workers are spawned (not forked: forking a process
that already runs torch threads can deadlock) and each keeps its own caches of decoded datasets.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from utils import log  # in a spawned worker too: the console handler on stderr, as in the parent
from utils.cores import available_cores

T = TypeVar("T")


def threads_per_worker(workers: int, num_threads: int) -> int:
    """[run] num_threads when set, else the CPU cores shared evenly between the workers."""
    if num_threads > 0:
        return num_threads
    return max(1, available_cores() // workers)


_POOL_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """torch's threads and the BLAS / OpenMP pools of numpy, scipy and sklearn (the probe's lbfgs runs
    ten times slower with two BLAS threads competing on two busy cores). threadpoolctl reaches only the
    pools already loaded; scipy's own OpenBLAS loads later (with sklearn) and reads the variables instead."""
    import torch
    from threadpoolctl import threadpool_limits

    os.environ.update({var: str(threads) for var in _POOL_VARS})
    torch.set_num_threads(threads)
    threadpool_limits(threads)


def _init_worker(threads: int, level: int) -> None:
    limit_threads(threads)
    log.set_level(level)


def run_jobs(fn: Callable[[T], Any], jobs: Iterable[T], workers: int, num_threads: int = 0) -> Iterator[tuple[T, Any]]:
    """Yield (job, fn(job)) as jobs finish; the first exception stops the rest and is raised here.

    `fn` must be a module-level function (it is pickled for the workers). num_threads: [run] num_threads.
    """
    jobs = list(jobs)
    if workers <= 1 or len(jobs) <= 1:
        if num_threads > 0:
            limit_threads(num_threads)
        for job in jobs:
            yield job, fn(job)
        return
    workers = min(workers, len(jobs))
    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                  initargs=(threads_per_worker(workers, num_threads), log.console_level()))
    try:
        futures = {pool.submit(fn, job): job for job in jobs}
        for future in cf.as_completed(futures):
            yield futures[future], future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
