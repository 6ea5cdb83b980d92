// TopK-Greedy matching of Wald et al., "Decoupling Semantic Similarity from Spatial Alignment for
// Neural Networks", NeurIPS 2024, sec. 3.2: the K positions of largest norm of each sample are
// matched to each other exactly; the remaining S - K positions of each are matched to each other
// by the greedy rule (lap/greedy.h). Only the two diagonal blocks of the cost matrix are computed,
// (K^2 + (S-K)^2) * C multiply-adds. With K >= S it is the exact matcher.
#pragma once

#include "cost/pair_block.h"
#include "lap/greedy.h"

namespace semrsm {

// Writes perm[s] = position of b matched to position s of a. a and b are S x C, row-major; order_a
// and order_b rank each sample's positions by decreasing norm.
template <class T>
LapStatus topk_greedy_pair(const T* a, const T* b, int S, int C, const int32_t* order_a,
                           const int32_t* order_b, int topk, int32_t* perm, PairScratch<T>& s,
                           const std::atomic<bool>* cancel) {
    const int K = std::min(topk, S), rest = S - K;
    const int largest = std::max(K, rest);
    s.reserve((int64_t)largest * largest, largest);
    if (K > 0) {
        const T* c = indexed_block(a, b, C, order_a, order_b, K, s);
        const LapStatus status = solve_exact_block(c, K, s, cancel);
        if (status != LapStatus::ok) return status;
        for (int r = 0; r < K; ++r) perm[order_a[r]] = order_b[s.x[r]];
    }
    if (rest > 0) {
        const T* c = indexed_block(a, b, C, order_a + K, order_b + K, rest, s);
        solve_greedy(c, rest, rest, s.x.data(), s.lap);
        for (int r = 0; r < rest; ++r) perm[order_a[K + r]] = order_b[K + s.x[r]];
    }
    return LapStatus::ok;
}

}  // namespace semrsm
