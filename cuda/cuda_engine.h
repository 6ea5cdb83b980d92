// The CUDA engine's interface. Plain C++ (no CUDA types) so that bindings.cpp compiles without
// nvcc: device pointers and streams travel as integers, exactly as CuPy hands them over.
//
// All functions enqueue work on `stream` (0 = the legacy default stream) of device `device` and
// return without synchronising. They throw semrsm::cuda::CudaError (a std::runtime_error) with the
// CUDA error text when a call or launch fails, and std::invalid_argument on sizes they cannot take.
#pragma once

#include <cstdint>

namespace semrsm::cuda {

// Largest m the GPU solver takes (a block of 1024 threads, 8 columns each).
constexpr int kMaxColumns = 8192;

// A batch of B dense row-major n x m problems (n <= m) in device memory, and its outputs, all
// device pointers preallocated by the caller: col (B x n int32), objective (B, float64),
// bound (B, float64), u (B x n float64), v (B x m float64), status (B, int8: semrsm::LapStatus,
// cpp/lap/status.h).
struct DeviceLapBatch {
    std::uintptr_t costs = 0;
    bool is_double = false;  // costs are float64, else float32
    std::int64_t batch = 0;
    int n = 0, m = 0;
    bool maximize = false;
    // The epsilon-scaling auction alone (square problems without forbidden entries; others are
    // solved exactly), stopping at eps = auction_eps, or at auction_default_eps of
    // cpp/lap/auction_schedule.h when it is 0: the method "auction" of semrsm::solve_batch.
    bool auction_only = false;
    double auction_eps = 0.0;
    std::uintptr_t col = 0, objective = 0, bound = 0, u = 0, v = 0, status = 0;
};

// Exact LAPs (cuda/engine/batch.cu, cuda/lap/exact.cuh): a warp per problem for m <= 256, a block per
// problem above; or the auction alone (`auction_only`). Results follow semrsm::solve_batch: objective
// and bound in the caller's sense (maximised when `maximize`), u and v dual potentials with the
// caller's sign.
void solve_batch(const DeviceLapBatch& batch, int device, std::uintptr_t stream);

// Pair cost blocks (cuda/cost/pair_block.cu): out[p] = X[pairs[p][0]] @ X[pairs[p][1]]^T for
// X (N, S, C) float32 C-contiguous, pairs (P, 2) int32, out (P, S, S) float32. `tf32` uses the
// tensor cores with TF32 inputs (about 1e-3 relative error) instead of float32 FMA.
void pair_cost_blocks(std::uintptr_t x, std::int64_t samples, int s, int c, std::uintptr_t pairs,
                      std::int64_t count, std::uintptr_t out, bool tf32, int device,
                      std::uintptr_t stream);

}  // namespace semrsm::cuda
