// SEMRSM_HD marks a function that both engines run: compiled for the host, and by nvcc for the device
// as well, so that what CI tests on the CPU is the logic the GPU runs (DESIGN.md).
#pragma once

#if defined(__CUDACC__)
#define SEMRSM_HD __host__ __device__
#else
#define SEMRSM_HD
#endif
