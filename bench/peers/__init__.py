"""Batched GPU LAP peers against semrsm.solve, one job per module (bench/gpu_peers.py runs them):

- :mod:`peers.fetch`: download the peers' source distributions where PyPI answers;
- :mod:`peers.build`: build them on the GPU machine against its PyTorch and nvcc;
- :mod:`peers.adapters`: each solver behind one signature, and the checks of its assignments;
- :mod:`peers.worker`: one worker process per solver, the line protocol, the timing;
- :mod:`peers.report`: the markdown report;
- :mod:`peers.cli`: the command line.

Importing any of them needs neither torch nor CuPy; they are imported where used.
"""
