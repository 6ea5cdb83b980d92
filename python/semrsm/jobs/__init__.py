"""Semantic RSMs for large N: the pair grid cut into tiles, each one call of the engine, run in the
local process or as Dask tasks and written to a Zarr store chunked by tile, which a killed job resumes
and whose kernels follow afterwards (:func:`run_job`, :func:`open_rsm`; DESIGN.md, "Large jobs").

``_tiles`` the tile grid, ``_input`` the inputs read by rows, ``_store`` the store and its done marks,
``_run`` the job (local loop, Dask tasks, the worker's device and threads), ``_open`` the kernels read
back. Dask and Zarr are imported only where a job uses them (``pip install "semrsm[distributed]"``).
"""

from ._open import StoredRSM, open_rsm
from ._run import JobReport, engine_threads, run_job, worker_device
from ._tiles import TileGrid

__all__ = ["JobReport", "StoredRSM", "TileGrid", "engine_threads", "open_rsm", "run_job", "worker_device"]
