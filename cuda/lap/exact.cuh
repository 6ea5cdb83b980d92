// The GPU twin of cpp/lap/exact.h: the exact solver of one problem by one group, JV (column reduction,
// augmenting row reduction, shortest augmenting paths) or the auction/shortest-path hybrid, chosen by
// what column reduction achieves (cpp/lap/rules.h); or the auction alone, the method "auction".
#pragma once

#include "lap/auction.cuh"
#include "lap/common.cuh"
#include "lap/hybrid.cuh"
#include "lap/jv.cuh"
#include "lap/rules.h"
#include "lap/sap.cuh"

namespace semrsm::cuda {

// Solves p; returns false when it is infeasible. `auction_only`: the epsilon-scaling auction alone to
// `auction_eps` (0: its default), for square problems without forbidden entries (the others are
// solved exactly).
template <class T, int G, int CPL>
__device__ __forceinline__ bool solve_exact(GroupProblem<T, G, CPL>& p, bool auction_only, double auction_eps) {
    bool use_auction = false;
    if (p.n == p.m) {
        const ColumnReduction r = column_reduction(p);
        if (r.infeasible) return false;
        // A constant matrix (hi == lo) is solved by column reduction and the paths: no prices to bid up.
        use_auction = !r.forbidden && (auction_only || (prefer_hybrid(p.n, r.nfree, kHybridMinRowsGpu) && r.hi > r.lo));
        if (use_auction) {
            auction(p, auction_eps_range(r.lo, r.hi, r.integral, p.m, auction_only ? auction_eps : 0.0, !auction_only));
            if (auction_only) return true;  // every row assigned
            hand_over(p);
        }
    }
    if (!use_auction && !augmenting_row_reduction(p)) return false;
    return augment_rows(p);
}

}  // namespace semrsm::cuda
