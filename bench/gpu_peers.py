"""Batched GPU LAP peers against semrsm.solve: the same float32 costs, one run, one table (issue 5).

    python bench/gpu_peers.py --sdists DIR [--site build/gpu-peers] [--peers ...] [--out FILE.md]

The work is done by the package bench/peers/ (fetch, build, adapters, worker, report, cli).

Peers, as read from their source distributions (torch-lap-cuda has no wheel on PyPI;
torch-linear-assignment's 0.1.0 wheel is pure Python, while its sdist also holds the 0.0.x kernel):

- ``torch-linear-assignment`` 0.1.0, module ``torch_linear_assignment``:
  ``batch_linear_assignment(cost)`` takes (B, W, T) costs and *minimises*; it returns the column of
  every row as (B, W) int64 (-1 for a row left unassigned when W > T). float32 and float64 are
  solved as given, other dtypes are promoted to float32; NaN and -inf raise. Since 0.1.0 the CUDA
  path is Triton (one program of one warp per problem, its lanes the columns, so BLOCK_N =
  next_power_of_2(T)); it needs compute capability >= 8.0, Torch >= 2.4 and Triton, and otherwise
  falls back to SciPy on the CPU (with one warning), which the adapter here refuses to time. The
  compiled CUDA kernel of the 0.0.x line (Crouse's shortest augmenting paths, one *thread* per
  problem, W <= T on the kernel side) still ships in the sdist and is built when
  ``TLA_BUILD_LEGACY_CUDA=1``; it is benchmarked too, as ``tla-cuda``. Install needs: setuptools;
  scipy, torch and triton at run time (all on the GPU machine); the 0.0.x kernel also needs nvcc
  and a CUDA build of torch (setup.py refuses otherwise unless ``FORCE_CUDA=1``). No arch flags:
  torch's ``TORCH_CUDA_ARCH_LIST`` (or the visible GPU) decides.
- ``torch-lap-cuda`` 0.0.3, module ``torch_lap_cuda`` (extension ``torch_lap_cuda_lib``):
  ``solve_lap(cost, device=None)`` takes (B, N, N) (or (N, N)) CUDA costs, *square only*, and
  *minimises* (HyLAC: a Hungarian method with one 1024-thread block per problem); int32, int64,
  float32 and float64 (it checks for half too, but does not dispatch it). Returns (B, N) int64
  columns. It copies the costs (the slack matrix) and allocates an int64 (B, N, N) table of zeros,
  so it needs about 3x the costs' memory on top of them; zeros are tested with ``|x| < 1e-6``, an
  absolute tolerance, so float costs may give non-optimal objectives. CUDA errors inside it call
  ``exit(1)``. Build needs: ``--no-build-isolation`` (setup.py imports torch), nvcc, packaging and
  a CUDA torch; it compiles sm_75 always plus the archs in ``torch_lap_cuda_ARCHS`` (default
  "75;80;86;89;90;100;120"; set here to the GPU's own) and links ``-lcuda`` (found or made here).
  0.0.3 does not compile with CUDA 13 (CCCL 3 removed ``cub::Max``/``cub::Min``): when the first
  build fails on that, the build patches the two functors with local equivalents and says so.

Each solver runs in worker processes of its own (a peer that aborts, hangs or poisons the CUDA
context loses one case, not the run): the worker makes the costs itself (uniform: CuPy's
``default_rng(5)``, as bench/bench_cuda.py; semantic: bench_cuda.semantic_batch, the negated inner
products of ReLU conv features of photos), shares them with torch through DLPack, times the whole
call with CUDA events (median of 5 after one warm-up; fewer when a run takes longer than
``--max-seconds``) and checks the assignment: a permutation, and its float64 objective within a
relative 1e-5 of semrsm's on every problem. semrsm runs first (always); its objectives are the
reference. A failing case is reported with its reason. A warm-up longer than ``--slow-seconds`` is
reported alone, and a case that runs past ``--case-timeout`` is ended; either way that solver then
skips the cases at least as hard (n larger, or the same n and B at least as large).

Fetching the sources, on a machine where PyPI answers (the 1.2 MB of sdists then go to the GPU
machine, which needs no network)::

    python3 bench/gpu_peers.py --fetch .peers

That is ``pip download --no-deps --no-binary :all: -d .peers torch-linear-assignment==0.1.0
torch-lap-cuda==0.0.3`` (``--spec NAME`` for others or the newest), run with a stub ``torch`` and a
stub nvcc, because torch-lap-cuda's setup.py imports torch and runs ``nvcc -V`` to write its
metadata. Nothing is built there. On the GPU machine, with semrsm built with CUDA on::

    python3 bench/gpu_peers.py --sdists .peers --build-only           # a few minutes of nvcc
    python3 bench/gpu_peers.py --budget 540 --out results/gpu_peers.md
    # or a part at a time: --peers tla-cuda --sizes 256x256,10000x256 --kinds uniform

or all of the GPU validation at once, these two included: ``bash bench/gpu_check.sh results/ .peers``.
The peers install with ``pip install --no-build-isolation --no-deps --no-index --target
build/gpu-peers``: not into the interpreter, and kept there (``build/`` is not tracked), so later
runs reuse them (``--rebuild`` forces a build). ``--device cpu`` checks the plumbing on a machine
without a GPU: semrsm on NumPy and torch-linear-assignment's SciPy path.
"""

import sys

from peers.cli import main

if __name__ == "__main__":
    sys.exit(main())
