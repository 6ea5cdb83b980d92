// Batch-Optimal matching of Wald et al., "Decoupling Semantic Similarity from Spatial Alignment for
// Neural Networks", NeurIPS 2024, sec. 3.2: the positions of both samples are ranked by vector norm,
// the ranks are cut into windows of k, and positions are matched exactly within each window only.
//
// The ranking is made once per sample by the caller (order_a, order_b: decreasing norm), not once
// per pair as in the authors' code, and only the diagonal window blocks of the cost matrix are
// computed: S*k*C multiply-adds per pair instead of S^2*C. With k >= S it is the exact matcher.
//
// When k does not divide S one window is short. partial_largest puts it at the top of the ranking
// (the largest norms), as the authors' code does (it ranks by increasing norm and cuts windows from
// the low end); otherwise it is the last window (the smallest norms), all full ones cut from the top.
#pragma once

#include <algorithm>

#include "cost/pair_block.h"

namespace semrsm {

// Writes perm[s] = position of b matched to position s of a. a and b are S x C, row-major.
template <class T>
LapStatus batch_optimal_pair(const T* a, const T* b, int S, int C, const int32_t* order_a,
                             const int32_t* order_b, int window, bool partial_largest, int32_t* perm,
                             PairScratch<T>& s, const std::atomic<bool>* cancel) {
    const int k = std::min(window, S);
    s.reserve((int64_t)k * k, k);
    // Windows [w0, w0 + k) clipped to the ranks 0..S-1: the short window first means a grid that
    // starts k - S % k ranks before rank 0.
    const int shift = partial_largest && S % k ? k - S % k : 0;
    for (int w0 = -shift; w0 < S; w0 += k) {
        const int lo = std::max(w0, 0), size = std::min(w0 + k, S) - lo;
        const T* c = indexed_block(a, b, C, order_a + lo, order_b + lo, size, s);
        const LapStatus status = solve_exact_block(c, size, s, cancel);
        if (status != LapStatus::ok) return status;
        for (int r = 0; r < size; ++r) perm[order_a[lo + r]] = order_b[lo + s.x[r]];
    }
    return LapStatus::ok;
}

}  // namespace semrsm
