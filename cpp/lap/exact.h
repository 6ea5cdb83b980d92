// The default exact solver: Jonker-Volgenant (jv.h) or the auction/shortest-path hybrid (hybrid.h),
// chosen per problem by what JV's column reduction achieves (the rule and its measurements:
// lap/rules.h, shared with the GPU's cuda/lap/exact.cuh). With `plain_start` (jv.h) shortest
// augmenting paths run alone.
#pragma once

#include <algorithm>
#include <cmath>

#include "lap/hybrid.h"
#include "lap/jv.h"
#include "lap/rules.h"

namespace semrsm {

// The spread of prefer_hybrid_for_spread (rules.h) over kSpreadSampleRows rows spaced evenly over the
// problem: enough to tell the kinds of costs apart at a few percent of one JV pass's work.
template <class T>
double row_minima_spread(const T* c, int n, int m) {
    const int rows = std::min(n, kSpreadSampleRows);
    double sum_min = 0.0, sum_min2 = 0.0, sum_height = 0.0;
    for (int k = 0; k < rows; ++k) {
        const T* row = c + ((int64_t)k * n / rows) * m;
        double total = 0.0;
        T low = row[0];
#pragma omp simd reduction(+ : total) reduction(min : low)
        for (int j = 0; j < m; ++j) {
            total += (double)row[j];
            low = row[j] < low ? row[j] : low;
        }
        sum_min += (double)low;
        sum_min2 += (double)low * (double)low;
        sum_height += total / m - (double)low;
    }
    const double mean_min = sum_min / rows;
    const double variance = std::max(sum_min2 / rows - mean_min * mean_min, 0.0);
    const double height = sum_height / rows;
    return height > 0.0 && std::isfinite(height) ? std::sqrt(variance) / height : 0.0;
}

template <class T>
LapStatus solve_exact(const T* c, int n, int m, bool plain_start, int32_t* x, double* u, double* v,
                      LapWorkspace& ws, const std::atomic<bool>* cancel) {
    const bool square = n == m && !plain_start;
    // The spread first: it reads 64 rows, where JV's start reads them all.
    if (square && n >= kSpreadMinRows && prefer_hybrid_for_spread(n, row_minima_spread(c, n, m)))
        return solve_hybrid(c, n, m, plain_start, 0.0, x, u, v, ws, cancel);
    const int nfree = jv_start(c, n, m, plain_start, x, v, ws);
    if (square && prefer_hybrid(n, nfree, kHybridMinRows))
        return solve_hybrid(c, n, m, plain_start, 0.0, x, u, v, ws, cancel);
    return jv_finish(c, n, m, nfree, x, u, v, ws, cancel);
}

}  // namespace semrsm
