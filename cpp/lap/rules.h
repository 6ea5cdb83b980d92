// The choices of the exact solver that both engines make (cpp/lap/exact.h, jv.h; cuda/lap/exact.cuh,
// jv.cuh): which solver a problem gets, and how long the augmenting row reduction may run. Where the
// GPU differs, its constant stands beside the CPU's with the reason.
#pragma once

#include <cstdint>

#include "hd.h"

namespace semrsm {

// The auction/shortest-path hybrid (hybrid.h) instead of JV when column reduction leaves more than half
// of the rows free. On costs with independent entries it frees about n/e of them (each column's minimum
// falls on a random row), and JV's cheap initialisation then does most of the work; on inner-product
// costs of ReLU features one large-norm position is the best match of nearly every column, column
// reduction frees almost every row, JV degenerates to n shortest path searches, and the hybrid is 5x
// (n = 196) to 25x (n = 3136) faster on the CPU (bench/RESULTS.md).
SEMRSM_HD inline bool prefer_hybrid(int n, int nfree, int min_rows) { return n >= min_rows && 2 * nfree > n; }

constexpr int kHybridMinRows = 2;

// Among costs with independent entries, those with an unbounded lower tail (normal, logistic,
// Student's t) keep JV's augmenting row reduction busy: rows lose their column to rows whose minimum
// lies only a little lower, over and over. How much their minima differ shows it: `spread` is the
// standard deviation of the rows' minima over their mean height below the row means, and n * spread
// is 1-3 on uniform and exponential costs, 3-12 on log-normal ones at every n up to 3136, but grows
// with n on tails without a bound (normal: 35 at n = 256, 80-100 at 784, 150-170 at 1568). The hybrid
// is faster from about n * spread = 110 on (1-core times, jv / hybrid: normal 0.87 at n = 784,
// 1.03-1.05 at 1024-1200, 1.4 at 1568 and 3136; Student's t5 1.3-1.8 from n = 392; logistic 1.06 at
// 512, 1.3-1.9 from 784; bench/RESULTS.md). CPU only: the GPU's choice has not been measured on such
// costs.
constexpr double kHybridMinSpreadRows = 110.0;
constexpr int kSpreadMinRows = 256;  // below it n * spread stays under 110 on every kind measured
constexpr int kSpreadSampleRows = 64;
inline bool prefer_hybrid_for_spread(int n, double spread) { return n * spread >= kHybridMinSpreadRows; }
// On the GPU JV's row reduction and paths stay faster up to n = 128 (H100, semantic costs: 46 vs 58 ms
// for 100,000 problems of n = 64, 10 vs 13 ms for 1,000 of n = 128); above it the auction wins
// (n = 196..1024: 1.6 to 7x).
constexpr int kHybridMinRowsGpu = 129;

// Steps of one pass of augmenting row reduction. Float rounding can make a row win and lose the same
// column forever by ever smaller price steps (gatagat/lap issue #24), so a pass is capped and the rows
// left free go to the exact augmentation. 16 steps per free row is also the fastest split of work
// between the two on uniform costs (n = 49..784: 10-15% faster than letting the reduction run out).
SEMRSM_HD inline int64_t arr_step_budget(int nfree) { return 16 * (int64_t)nfree + 16; }

// The GPU's one pass is capped at 4 steps per row of the problem, the budget it was first tuned with;
// it has not yet been measured against the CPU's rule on a GPU, and stays until it is.
SEMRSM_HD inline int64_t arr_step_budget_gpu(int n) { return 4 * (int64_t)n; }

}  // namespace semrsm
