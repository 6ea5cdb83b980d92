// Batch-Optimal matching of Wald et al., "Decoupling Semantic Similarity from Spatial Alignment for
// Neural Networks", NeurIPS 2024, sec. 3.2: the positions of both samples are ranked by vector norm,
// the ranks are cut into windows of k, and positions are matched exactly within each window only.
//
// The ranking is made once per sample by the caller (order_a, order_b), not once per pair as in the
// authors' code, and only the diagonal window blocks of the cost matrix are computed: S*k*C
// multiply-adds per pair instead of S^2*C. With k >= S it is the exact matcher.
#pragma once

#include "cost/pair_block.h"

namespace semrsm {

// Writes perm[s] = position of b matched to position s of a. a and b are S x C, row-major.
template <class T>
LapStatus batch_optimal_pair(const T* a, const T* b, int S, int C, const int32_t* order_a,
                             const int32_t* order_b, int window, int32_t* perm, PairScratch<T>& s,
                             const std::atomic<bool>* cancel) {
    const int k = std::min(window, S);
    s.reserve((int64_t)k * k, k);
    for (int w0 = 0; w0 < S; w0 += k) {
        const int size = std::min(k, S - w0);
        const T* c = indexed_block(a, b, C, order_a + w0, order_b + w0, size, s);
        const LapStatus status = solve_exact_block(c, size, s, cancel);
        if (status != LapStatus::ok) return status;
        for (int r = 0; r < size; ++r) perm[order_a[w0 + r]] = order_b[w0 + s.x[r]];
    }
    return LapStatus::ok;
}

}  // namespace semrsm
