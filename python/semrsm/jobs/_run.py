"""Running a job: every missing tile solved, in the local process or as one Dask task per tile, each
written to the store by whoever solved it (results never pass through the client or the scheduler).

A tile is one call of the semantic engine on (x[rows], y[cols]) with the job's options and the
whole job's block dtype (``semrsm.semantic._plan.block_dtype``), so its numbers are those of
:func:`semrsm.semantic_rsm` on the whole input. Ctrl-C stops the loop, cancels the tasks not yet run
and leaves the store resumable: only finished tiles are marked done.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import sys
import time
import uuid
from typing import Optional

import numpy as np
from tqdm.auto import tqdm

from .. import _core
from .._backend import backends, resolve, to_numpy
from ..semantic import _cpu, _cuda
from ..semantic._grid import solve_grid
from ..semantic._plan import Options, Samples
from ._input import Features, open_features
from ._store import Store, identity_of
from ._tiles import check_tile

__all__ = ["JobReport", "engine_threads", "run_job", "solve_tile", "worker_device"]

#: Tries of a tile whose task fails (a lost worker's tasks are rerun by Dask besides).
RETRIES = 3


@dataclasses.dataclass
class JobReport:
    """What :func:`run_job` did: the store's path, the tiles of the job, those it computed (the
    others were done already) and the seconds it took."""

    path: str
    tiles: int
    computed: list
    seconds: float


def job_options(matcher, window, partial_window, topk, layout, bound) -> dict:
    """The options that decide the objectives, checked and written as the store records them."""
    options = Options.check(kernel="inner", matcher=matcher, window=window, partial_window=partial_window,
                            topk=topk, layout=layout, return_perm=False, return_bound=bound, sigma=None,
                            threads=None, max_memory=None, progress=False)
    return {"matcher": options.matcher, "window": options.window, "partial_window": options.partial_window,
            "topk": options.topk, "layout": options.layout, "bound": options.return_bound}


def _tile_options(options: dict, threads: Optional[int]) -> Options:
    return Options.check(kernel="inner", matcher=options["matcher"], window=options["window"],
                         partial_window=options["partial_window"], topk=options["topk"], layout=options["layout"],
                         return_perm=False, return_bound=options["bound"], sigma=None, threads=threads,
                         max_memory=None, progress=False)


def worker_device(report: Optional[dict] = None) -> str:
    """"cuda" where the CUDA engine can run here (a dask-cuda worker sees its one GPU through
    CUDA_VISIBLE_DEVICES) and CuPy is installed, else "cpu". ``report``: :func:`semrsm.backends`'."""
    report = backends() if report is None else report
    if not report["cuda"]["available"]:
        return "cpu"
    try:
        import cupy  # noqa: F401
    except ImportError:
        return "cpu"
    return "cuda"


def engine_threads(worker_threads: int, cores: Optional[int] = None) -> int:
    """Engine threads per task when ``worker_threads`` tasks (the threads of every worker on the
    host) run at once on ``cores`` cores (default this process's): their product never exceeds
    the cores."""
    cores = _core.cpu_count() if cores is None else cores
    return max(1, cores // max(1, worker_threads))


def solve_tile(store: Store, x: Features, y: Optional[Features], r: int, c: int, threads: Optional[int] = None,
               device: Optional[str] = None) -> tuple[int, int]:
    """Solve tile (r, c) of the store's job and write it there (values first, the done mark last)."""
    grid = store.grid
    rows, cols = grid.rows(r), grid.cols(c)
    xt = x.rows(rows.start, rows.stop)
    diagonal = grid.symmetric and r == c
    yt = None if diagonal else (x if grid.symmetric else y).rows(cols.start, cols.stop)
    options = _tile_options(store.attrs["options"], threads)
    backend = resolve(xt, yt, device=device)
    with backend.on_device():
        engine = _cuda.gpu_ops(backend.xp, backend.device_id) if backend.gpu else _cpu.CpuEngine()
        samples = Samples.prepare(xt, yt, options.layout, engine.xp,
                                  largest_norms=tuple(store.attrs["largest_norms"]))
        solved = solve_grid(samples, options, engine)
        objective = to_numpy(solved.objective)
        bound = None if solved.bound is None else to_numpy(solved.bound)
    store.write_tile(r, c, objective, bound, solved.rounding)
    return r, c


def _tile_task(path: str, x: Features, y: Optional[Features], r: int, c: int, threads: Optional[int],
               host_threads: dict, device: Optional[str]):
    """One tile as a Dask task: the engine on ``threads``, or on this worker's share of its host's
    cores (``host_threads``: the worker threads of each host when the job started; a worker that
    joined later counts its own), the GPU where it has one."""
    from distributed import get_worker

    worker = get_worker()
    if threads is None:
        threads = engine_threads(host_threads.get(worker.address.rpartition(":")[0], worker.state.nthreads))
    return solve_tile(Store.open(path, writable=True), x, y, r, c, threads,
                      worker_device() if device is None else device)


def _threads_per_host(client) -> dict:
    """Worker threads of each host ("tcp://10.0.0.1") of the cluster, over all its workers there."""
    hosts = {}
    for address, worker in client.scheduler_info()["workers"].items():
        host = address.rpartition(":")[0]
        hosts[host] = hosts.get(host, 0) + int(worker["nthreads"])
    return hosts


def _norms(x: Features, y: Optional[Features], layout: Optional[str]):
    """(sq_norms_x, sq_norms_y, exp_x, exp_y) as the engine holds the samples, and the largest
    position norms of x and y, a block of rows at a time."""
    common = None if y is None or x.dtype == y.dtype else np.float64  # x and y are solved in one dtype

    def of(features):
        sq, exp, largest = [], [], 0.0
        for lo, hi in features.blocks():
            block = features.rows(lo, hi)
            try:
                samples = Samples.prepare(block if common is None else block.astype(common), None, layout, np)
            except ValueError as exc:  # said of the block: said again of the input
                bad = np.argwhere(~np.isfinite(block))[:1] if np.issubdtype(block.dtype, np.inexact) else ()
                if len(bad):
                    where = ", ".join(map(str, [lo + int(bad[0][0]), *map(int, bad[0][1:])]))
                    raise ValueError(f"{features.name}[{where}] is {block[tuple(bad[0])]}; samples must be "
                                     f"finite") from None
                raise ValueError(f"{features.name}, in samples {lo} to {hi - 1}: {exc}") from None
            sq.append(samples.frob_x)
            exp.append(samples.exp_x)
            largest = max(largest, samples.largest_norms[0])
        return np.concatenate(sq), np.concatenate(exp), largest

    sq_x, exp_x, largest_x = of(x)
    sq_y, exp_y, largest_y = (sq_x, exp_x, largest_x) if y is None else of(y)
    return (sq_x, sq_y, exp_x, exp_y), (largest_x, largest_y)


def _check_inputs(x: Features, y: Optional[Features], layout: Optional[str]):
    """Shapes and the rows' checks, on the first sample only (each tile checks its own rows)."""
    probe_y = None if y is None else y.rows(0, 1)
    samples = Samples.prepare(x.rows(0, 1), probe_y, layout, np)
    return samples.shape[2:]


_STAGING = ".creating-"  # a store being created: PATH.creating-PID, renamed to PATH once complete


def _remove_abandoned_stagings(path: str) -> None:
    """Remove the stores that a process killed while creating one left half made (PATH.creating-PID of
    a process no longer running on this host)."""
    for staging in glob.glob(glob.escape(path) + _STAGING + "*"):
        pid = staging.rsplit(_STAGING, 1)[1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(staging, ignore_errors=True)
        except OSError:  # running, under another user
            pass


def open_store(path, x: Features, y: Optional[Features], tile: int, options: dict, resume: bool) -> Store:
    """The store of this job at ``path``: created when absent (atomically, by renaming a finished
    one into place), reopened when it is this job's and ``resume``, refused otherwise."""
    path = os.path.abspath(os.fspath(path))
    S, C = _check_inputs(x, y, options["layout"])
    identity = identity_of(x.fingerprint(), None if y is None else y.fingerprint(), options, tile)
    if os.path.isdir(path) and os.listdir(path):
        store = Store.open(path, writable=True)
        differences = store.differences(identity)
        if differences:
            raise ValueError(f"{path} holds another job's results, which are never mixed with this one's:\n  "
                             + "\n  ".join(differences) + "\nGive a new store path, or remove this one")
        if not resume:
            raise ValueError(f"{path} already holds this job ({len(store.missing_tiles())} tiles missing); "
                             f"resume it (resume=True, --resume) or remove it to start again")
        return store
    norms, largest = _norms(x, y, options["layout"])
    _remove_abandoned_stagings(path)
    staging = f"{path}{_STAGING}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    identity["largest_norms"] = list(largest)
    Store.create(staging, identity, (len(x), len(x) if y is None else len(y), S, C), norms, options["bound"])
    if os.path.isdir(path):
        os.rmdir(path)  # empty: it was checked above
    os.rename(staging, path)
    return Store.open(path, writable=True)


def _resume_hint(store: Store, done: int, total: int) -> str:
    return (f"semrsm: stopped with {done} of {total} tiles done in {store.path}; the same job on the same "
            f"store resumes from there")


def run_job(x, store, y=None, *, tile: int = 256, matcher: str = "exact", window: int = 128,
            partial_window: str = "largest", topk: Optional[int] = None, layout: Optional[str] = None,
            bound: bool = False, client=None, local_workers: Optional[int] = None, resume: bool = True,
            verify: bool = True, threads: Optional[int] = None, device: Optional[str] = None,
            retries: int = RETRIES, progress: bool = True) -> JobReport:
    """A semantic RSM job too large for one call: tiles of the pair grid solved into a Zarr store
    that survives crashes, resumed where it stopped. Kernels follow with :func:`semrsm.open_rsm`.

    Parameters
    ----------
    x, y : array_like or path
        Samples as for :func:`semrsm.semantic_rsm` (y None: the symmetric N x N job): NumPy arrays,
        paths of .npy files (memory-mapped), of .npz files (``"file.npz:NAME"`` for one of several
        arrays) or of Zarr arrays, or Zarr arrays. A tile reads only its rows. On a cluster the
        workers open paths themselves, so give paths they can read (arrays are sent to each).
    store : path
        The job's Zarr store (a folder): created when absent, resumed when it holds this job.
    tile : int
        Samples per side of a tile (default 256): a tile is tile^2 pairs, one task, one chunk.
    matcher, window, partial_window, topk, layout
        As for :func:`semrsm.semantic_rsm`; recorded in the store.
    bound : bool
        Also store the upper bound on each objective (``return_bound``).
    client : dask.distributed.Client or str, optional
        Run the tiles as Dask tasks on this client's cluster (or the scheduler at this address);
        the workers read the input and write the store, which must be on a shared file system.
    local_workers : int, optional
        Without ``client``: a LocalCluster of this many single-threaded worker processes. Neither:
        the tiles run one after the other in this process, on ``threads`` engine threads.
    resume : bool
        An existing store of this job is resumed (default); False refuses it.
    verify : bool
        Check every done tile against its checksum first, and compute again those that fail.
    threads : int, optional
        Engine threads per tile. Default: all cores in this process; on a cluster each task takes
        its worker's share of its host's cores (cores // the worker threads of all workers there),
        so engine threads times worker threads never exceed a host's cores.
    device : {None, "cpu", "cuda"}
        None: tasks use the GPU where their worker has one (dask-cuda), this process the CPU.
    retries : int
        Tries of a task that fails, besides Dask's rerun of those on a lost worker.
    progress : bool
        A progress bar over the tiles.

    Returns
    -------
    JobReport

    Raises
    ------
    ValueError
        Bad input or options, ``tile <= 0``, a folder that is not a semrsm store, a store of other
        input or options (what differs is listed).
    PermissionError, FileNotFoundError
        A store that cannot be written where it is asked for.
    KeyboardInterrupt
        On Ctrl-C: finished tiles stay done, the rest is computed when the job runs again.
    """
    started = time.perf_counter()
    tile = check_tile(tile)
    if client is not None and local_workers is not None:
        raise ValueError("give a client (or scheduler address) or local_workers, not both")
    if local_workers is not None and (isinstance(local_workers, bool) or not isinstance(local_workers, int)
                                      or local_workers < 1):
        raise ValueError(f"local_workers must be a positive integer; got {local_workers!r}")
    options = job_options(matcher, window, partial_window, topk, layout, bound)
    x = open_features(x, "x")
    y = None if y is None else open_features(y, "y")
    job = open_store(store, x, y, tile, options, resume)
    missing = job.missing_tiles(verify=verify)
    total = len(job.grid.tiles())
    if missing:
        if client is None and not local_workers:
            _run_local(job, x, y, missing, threads, device, progress, total)
        else:
            _run_cluster(job, x, y, missing, client, local_workers, threads, device, retries, progress, total)
    return JobReport(job.path, total, missing, time.perf_counter() - started)


def _bar(job: Store, missing: list, total: int, progress: bool):
    return tqdm(total=total, initial=total - len(missing), unit="tile", desc="semrsm job", disable=not progress)


def _run_local(job, x, y, missing, threads, device, progress, total):
    done = total - len(missing)
    with _bar(job, missing, total, progress) as bar:
        try:
            for r, c in missing:
                solve_tile(job, x, y, r, c, threads, device)
                done += 1
                bar.update(1)
        except KeyboardInterrupt:
            print(_resume_hint(job, done, total), file=sys.stderr)
            raise


def _run_cluster(job, x, y, missing, client, local_workers, threads, device, retries, progress, total):
    from distributed import Client, LocalCluster, as_completed

    owned = []
    if client is None:
        cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        owned = [client, cluster]
    elif isinstance(client, str):
        client = Client(client)
        owned = [client]
    futures = []
    try:
        # inputs held in memory go to the workers once; inputs with a path are opened there
        xs = x if x.path is not None else client.scatter(x, broadcast=True)
        ys = y if y is None or y.path is not None else client.scatter(y, broadcast=True)
        run = uuid.uuid4().hex[:12]
        hosts = _threads_per_host(client)
        futures = [client.submit(_tile_task, job.path, xs, ys, r, c, threads, hosts, device,
                                 key=f"semrsm-tile-{r}-{c}-{run}",
                                 retries=retries, pure=False) for r, c in missing]
        done = total - len(missing)
        with _bar(job, missing, total, progress) as bar:
            try:
                for future in as_completed(futures):
                    future.result()
                    done += 1
                    bar.update(1)
            except BaseException as exc:
                client.cancel(futures)
                if isinstance(exc, KeyboardInterrupt):
                    print(_resume_hint(job, done, total), file=sys.stderr)
                raise
    finally:
        for resource in owned:
            resource.close()
