"""semrsm.jobs: tiled jobs in a Zarr store equal semantic_rsm in memory exactly (every matcher, symmetric
and cross, every kernel), on a LocalCluster of worker processes and in the local process; they survive
SIGKILL, a lost worker, damaged tiles and Ctrl-C, refuse other jobs' stores, and read inputs by rows."""

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import semrsm
from semrsm.jobs import _input, _run, engine_threads, open_rsm, run_job, worker_device
from semrsm.semantic import MATCHERS, semantic_rsm

distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

pytestmark = pytest.mark.timeout(60)

KERNELS = ["inner", "cosine", "rbf"]
OPTIONS = dict(window=4, topk=3)


def features(rng, n, S=9, C=8):
    return np.maximum(rng.standard_normal((n, S, C)), 0).astype(np.float32)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


def assert_same_as_memory(path, x, y, matcher, bound=False, sigmas=("median",)):
    stored = open_rsm(path)
    for sigma in sigmas:
        reference = semantic_rsm(x, y, kernel=KERNELS, matcher=matcher, sigma=sigma, return_bound=bound, **OPTIONS)
        rsms = reference[0] if bound else reference
        got = stored.kernel(KERNELS, sigma=sigma)
        for kernel in KERNELS:
            assert np.array_equal(got[kernel], rsms[kernel]), (matcher, kernel, sigma)
    if bound:
        assert np.array_equal(stored.bound(), reference[1])


@pytest.mark.parametrize("matcher", MATCHERS)
@pytest.mark.parametrize("cross", [False, True])
def test_cluster_job_equals_semantic_rsm(client, tmp_path, matcher, cross):
    rng = np.random.default_rng(len(matcher) + cross)
    x = features(rng, 11)  # tiles of 5, 5 and 1 rows
    y = features(rng, 7) if cross else None
    np.save(tmp_path / "x.npy", x)
    report = run_job(str(tmp_path / "x.npy"), tmp_path / "job.zarr", y=y, tile=5, matcher=matcher, client=client,
                     progress=False, bound=True, **OPTIONS)
    assert report.tiles == 6 and len(report.computed) == report.tiles
    assert_same_as_memory(tmp_path / "job.zarr", x, y, matcher, bound=True)
    assert open_rsm(tmp_path / "job.zarr").progress == (report.tiles, report.tiles)


LAZY = [("inner", None), ("cosine", None), ("rbf", "median"), ("rbf", "authors"), ("rbf", 0.9)]


def test_local_job_and_lazy_kernels(tmp_path):
    rng = np.random.default_rng(1)
    x, y = features(rng, 17), features(rng, 10)
    x[3] *= 2.0 ** 60  # samples held rescaled by powers of two: kernels at one common scale
    y[2] *= 2.0 ** -70
    for other in (None, y):
        path = tmp_path / f"job{other is None}.zarr"
        run_job(x, path, y=other, tile=4, matcher="batch_optimal", progress=False, **OPTIONS)
        assert_same_as_memory(path, x, other, "batch_optimal", sigmas=("median", "authors", 0.7))
        stored = open_rsm(path)
        for kernel, sigma in LAZY if other is None else LAZY[1:3]:
            lazy = stored.kernel(kernel, sigma=sigma, lazy=True)
            assert type(lazy).__module__.startswith("dask")
            reference = semantic_rsm(x, other, kernel=kernel, sigma=sigma, matcher="batch_optimal", **OPTIONS)
            assert np.array_equal(lazy.compute(), reference), (kernel, sigma)
        again = run_job(x, path, y=other, tile=4, matcher="batch_optimal", progress=False, **OPTIONS)
        assert again.computed == []


def test_npz_and_zarr_inputs(tmp_path):
    rng = np.random.default_rng(2)
    x = features(rng, 9)
    np.savez(tmp_path / "layers.npz", a=x, b=x[:3])
    zarr.create_array(str(tmp_path / "x.zarr"), shape=x.shape, chunks=(2, 9, 8), dtype=x.dtype)[...] = x
    reference = semantic_rsm(x, kernel="cosine")
    for k, source in enumerate([f"{tmp_path}/layers.npz:a", str(tmp_path / "x.zarr")]):
        run_job(source, tmp_path / f"job{k}.zarr", tile=4, progress=False)
        assert np.array_equal(open_rsm(tmp_path / f"job{k}.zarr").kernel("cosine"), reference)
    assert isinstance(_input.open_features(f"{tmp_path}/layers.npz:a", "x")._array, np.memmap)
    with pytest.raises(ValueError, match="holds 2 arrays"):
        run_job(str(tmp_path / "layers.npz"), tmp_path / "job2.zarr", tile=4, progress=False)


KILLED_JOB = textwrap.dedent("""
    import sys
    import numpy as np
    import semrsm.jobs._run as run
    solve = run.solve_tile
    def announced(store, x, y, r, c, *args):
        print(f"start {r} {c}", flush=True)
        return solve(store, x, y, r, c, *args)
    run.solve_tile = announced
    x = np.load(sys.argv[1])
    print("ready", flush=True)
    run.run_job(x, sys.argv[2], tile=3, matcher="exact", progress=False)
""")


def test_sigkill_at_random_moments_then_resume(tmp_path):
    rng = np.random.default_rng(3)
    x = features(rng, 18, S=16, C=8)
    np.save(tmp_path / "x.npy", x)
    script = tmp_path / "job.py"
    script.write_text(KILLED_JOB)
    reference = semantic_rsm(x, kernel=KERNELS)
    delays = np.random.default_rng(4).uniform(0.0, 0.4, size=3)
    for trial, delay in enumerate(delays):
        path = tmp_path / f"job{trial}.zarr"
        process = subprocess.Popen([sys.executable, str(script), str(tmp_path / "x.npy"), str(path)],
                                   stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        out, _ = process.communicate(timeout=30)
        started = {tuple(map(int, line.split()[1:])) for line in out.splitlines() if line.startswith("start")}
        report = run_job(x, path, tile=3, matcher="exact", progress=False)
        twice = started & set(report.computed)
        assert len(twice) <= 1, twice  # the local loop has one tile in flight
        got = open_rsm(path).kernel(KERNELS)
        for kernel in KERNELS:
            assert np.array_equal(got[kernel], reference[kernel])


def test_damaged_tiles_are_recomputed(tmp_path):
    rng = np.random.default_rng(5)
    x = features(rng, 12)
    path = tmp_path / "job.zarr"
    run_job(x, path, tile=4, progress=False)
    chunk = path / "objective" / "c" / "0" / "1"
    chunk.write_bytes(chunk.read_bytes()[:-7] + b"garbage")  # damaged values: the checksum fails
    (path / "done" / "c" / "1" / "2").unlink()  # no done mark: never marked, or lost
    cut = path / "done" / "c" / "2" / "2"
    cut.write_bytes(cut.read_bytes()[:3])  # a mark cut halfway
    stored = open_rsm(path)
    assert sorted(stored.missing_tiles(verify=True)) == [(0, 1), (1, 2), (2, 2)]
    with pytest.raises(ValueError, match="3 of 6 tiles are missing or damaged"):
        stored.kernel("cosine")
    assert np.isnan(stored.kernel("inner", allow_missing=True)[0, 4])
    report = run_job(x, path, tile=4, progress=False)
    assert sorted(report.computed) == [(0, 1), (1, 2), (2, 2)]
    assert np.array_equal(open_rsm(path).kernel("cosine"), semantic_rsm(x, kernel="cosine"))


def test_a_store_left_half_made_by_a_killed_process_is_removed(tmp_path):
    rng = np.random.default_rng(12)
    x = features(rng, 6)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid no process has any more
    abandoned = tmp_path / f"job.zarr.creating-{gone.pid}"
    (abandoned / "objective").mkdir(parents=True)
    alive = tmp_path / f"job.zarr.creating-{os.getppid()}"  # a process still running: left alone
    alive.mkdir()
    run_job(x, tmp_path / "job.zarr", tile=3, progress=False)
    assert not abandoned.exists() and alive.exists()
    assert np.array_equal(open_rsm(tmp_path / "job.zarr").kernel("inner"), semantic_rsm(x, kernel="inner"))


def test_other_jobs_are_refused(tmp_path):
    rng = np.random.default_rng(6)
    x = features(rng, 8)
    path = tmp_path / "job.zarr"
    run_job(x, path, tile=4, progress=False)
    changed = x.copy()
    changed[5, 1, 2] += 1.0
    with pytest.raises(ValueError, match="(?s)another job.s results.*x: the store has"):
        run_job(changed, path, tile=4, progress=False)
    with pytest.raises(ValueError, match="options"):
        run_job(x, path, tile=4, matcher="greedy", progress=False)
    with pytest.raises(ValueError, match="tile: the store has 4, this job 3"):
        run_job(x, path, tile=3, progress=False)
    with pytest.raises(ValueError, match="y: the store has None"):
        run_job(x, path, y=x, tile=4, progress=False)
    with pytest.raises(ValueError, match="already holds this job"):
        run_job(x, path, tile=4, progress=False, resume=False)


PEAK_OF_JOB = textwrap.dedent("""
    import sys, tracemalloc
    import numpy as np
    from semrsm.jobs import _input, run_job
    _input.BLOCK_BYTES = 16 << 10
    y = np.load(sys.argv[2])
    run_job(sys.argv[1], sys.argv[3] + "/warm.zarr", y=y[:1], tile=10 ** 6, progress=False)  # the imports
    tracemalloc.start()
    run_job(sys.argv[1], sys.argv[3] + "/job.zarr", y=y, tile=250, progress=False)
    print(tracemalloc.get_traced_memory()[1])
""")


def test_memory_mapped_input_is_read_by_rows(tmp_path):
    """Peak memory of the job (in a process of its own, which nothing else allocates in) far below
    the input's size: a tile reads its rows, and the hash and norms read blocks of 16 KiB."""
    rng = np.random.default_rng(7)
    x = features(rng, 8000, S=4, C=16)  # 2 MiB
    y = features(rng, 3, S=4, C=16)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    (tmp_path / "peak.py").write_text(PEAK_OF_JOB)
    out = subprocess.run([sys.executable, str(tmp_path / "peak.py"), str(tmp_path / "x.npy"),
                          str(tmp_path / "y.npy"), str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) < x.nbytes / 4  # measured: 0.16
    assert np.array_equal(open_rsm(tmp_path / "job.zarr").kernel("cosine"), semantic_rsm(x, y, kernel="cosine"))


def test_bad_input_gets_one_clear_error(tmp_path, monkeypatch):
    x = features(np.random.default_rng(8), 6)
    for tile in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="tile must be a positive integer"):
            run_job(x, tmp_path / "a.zarr", tile=tile, progress=False)
    for workers in (0, 1.5):
        with pytest.raises(ValueError, match="local_workers must be a positive integer"):
            run_job(x, tmp_path / "a.zarr", tile=3, local_workers=workers, progress=False)
    with pytest.raises(ValueError, match="not both"):
        run_job(x, tmp_path / "a.zarr", tile=3, client="tcp://127.0.0.1:1", local_workers=2, progress=False)
    bad = np.concatenate([x] * 50)
    bad[204, 2, 1] = np.inf
    monkeypatch.setattr(_input, "BLOCK_BYTES", 4096)  # the norms read 14 samples at a time
    with pytest.raises(ValueError, match=r"^x\[204, 2, 1\] is inf; samples must be finite$"):
        run_job(bad, tmp_path / "inf.zarr", tile=3, progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a semrsm job store"):
        run_job(x, foreign, tile=3, progress=False)
    zarr.open_group(str(tmp_path / "group.zarr"), mode="w").attrs["owner"] = "someone else"
    for action in (lambda: run_job(x, tmp_path / "group.zarr", tile=3, progress=False),
                   lambda: open_rsm(tmp_path / "group.zarr")):
        with pytest.raises(ValueError, match="not a semrsm job store"):
            action()
    if os.geteuid() == 0:  # root writes through permissions: a file system that takes no folders
        locked = pathlib.Path("/proc")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
    with pytest.raises(PermissionError, match="not writable"):
        run_job(x, locked / "job.zarr", tile=3, progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_job(x, tmp_path / "no" / "such" / "job.zarr", tile=3, progress=False)


INTERRUPTED_JOB = textwrap.dedent("""
    import sys, time
    import numpy as np
    import semrsm.jobs._run as run
    solve = run.solve_tile
    def slow(*args):
        out = solve(*args)
        print("tile", flush=True)
        time.sleep(0.2)
        return out
    run.solve_tile = slow
    run.run_job(np.load(sys.argv[1]), sys.argv[2], tile=3, progress=False)
""")


def test_ctrl_c_leaves_a_resumable_store(tmp_path):
    x = features(np.random.default_rng(9), 15)
    np.save(tmp_path / "x.npy", x)
    script = tmp_path / "job.py"
    script.write_text(INTERRUPTED_JOB)
    path = tmp_path / "job.zarr"
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path / "x.npy"), str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "tile"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode != 0 and "KeyboardInterrupt" in err
    assert "resumes from there" in err
    done, total = open_rsm(path).progress
    assert 1 <= done < total == 15
    report = run_job(x, path, tile=3, progress=False)
    assert len(report.computed) == total - done
    assert np.array_equal(open_rsm(path).kernel("cosine"), semantic_rsm(x, kernel="cosine"))


def test_worker_device_and_threads(monkeypatch):
    report = {"cuda": {"available": True}}
    monkeypatch.setitem(sys.modules, "cupy", object())
    assert worker_device(report) == "cuda"
    monkeypatch.setitem(sys.modules, "cupy", None)  # the engine runs, but CuPy is not installed
    assert worker_device(report) == "cpu"
    assert worker_device({"cuda": {"available": False}}) == "cpu"
    monkeypatch.setattr(_run, "backends", lambda: {"cuda": {"available": False, "reason": "no GPU"}})
    assert worker_device() == "cpu"
    assert engine_threads(2, cores=8) == 4 and engine_threads(16, cores=8) == 1 and engine_threads(1, cores=3) == 3


def test_tasks_share_their_hosts_cores(client):
    hosts = _run._threads_per_host(client)
    assert list(hosts.values()) == [2]  # two single-threaded workers on this host
    threads = client.run(lambda dask_worker: engine_threads(hosts[dask_worker.address.rpartition(":")[0]]))
    assert set(threads.values()) == {max(1, semrsm.backends()["cpu"]["threads"] // 2)}


def test_ctrl_c_on_a_cluster_cancels_the_tasks_left(client, tmp_path, monkeypatch, capsys):
    x = features(np.random.default_rng(11), 12)
    path = tmp_path / "job.zarr"
    finished = distributed.as_completed

    def interrupted(futures):  # Ctrl-C once the first tile is in
        yield next(iter(finished(futures)))
        raise KeyboardInterrupt

    monkeypatch.setattr(distributed, "as_completed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_job(x, path, tile=3, client=client, progress=False)
    assert "resumes from there" in capsys.readouterr().err
    monkeypatch.undo()
    done, total = open_rsm(path).progress
    assert 1 <= done
    report = run_job(x, path, tile=3, client=client, progress=False)
    assert len(report.computed) <= total - done  # tasks already running when cancelled may finish
    assert np.array_equal(open_rsm(path).kernel("cosine"), semantic_rsm(x, kernel="cosine"))


def test_a_lost_worker_does_not_lose_the_job(client, tmp_path):
    """Last in this module: it kills one of the shared cluster's workers (its nanny restarts it)."""
    rng = np.random.default_rng(10)
    x = features(rng, 16, S=16, C=8)
    np.save(tmp_path / "x.npy", x)
    path = tmp_path / "job.zarr"
    pids = client.run(os.getpid)
    outcome = {}

    def job():
        try:
            outcome["report"] = run_job(str(tmp_path / "x.npy"), path, tile=2, client=client, progress=False)
        except BaseException as exc:  # reported below
            outcome["error"] = exc

    thread = threading.Thread(target=job)
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (path.exists() and any((path / "done").rglob("*/*"))):
        time.sleep(0.01)
    killed_at = open_rsm(path).progress[0]
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    thread.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert killed_at < outcome["report"].tiles
    assert np.array_equal(open_rsm(path).kernel("cosine"), semantic_rsm(x, kernel="cosine"))
