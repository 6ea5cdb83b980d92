// The GPU twin of cpp/lap/hybrid.h, after Guthe & Thuerck, "Algorithm 1015: A fast scalable solver for
// the dense linear (sum) assignment problem", ACM TOMS 47(2) 2021: the auction (cuda/lap/auction.cuh)
// stops at a coarse epsilon with near-optimal prices, which become the potentials of the shortest
// augmenting paths (cuda/lap/sap.cuh); here the hand-over between the two.
#pragma once

#include "lap/common.cuh"

namespace semrsm::cuda {

// Keeps the rows whose column is exactly a row minimum of c - v (the invariant of the augmentation);
// the others are freed for the shortest paths.
template <class T, int G, int CPL>
__device__ __forceinline__ void hand_over(GroupProblem<T, G, CPL>& p) {
    int* const x = p.sh.x;
    int* const y = p.sh.y;
    for (int i = 0; i < p.n; ++i) {
        const T* ci = p.row(i);
        const int xi = x[i];
        double lmin = CUDART_INF, at = CUDART_INF;
#pragma unroll
        for (int k = 0; k < CPL; ++k) {
            if (!p.has(k)) continue;
            const int j = p.column(k);
            const double h = p.cost(ci, j) - p.v[k];
            lmin = fmin(lmin, h);
            if (j == xi) at = h;
        }
        lmin = group_reduce<G>(lmin, Op::min, p.sh);
        at = group_reduce<G>(at, Op::min, p.sh);
        group_sync<G>();  // every thread has read x[i] before it changes
        if (p.tid == 0 && at != lmin) {
            y[xi] = -1;
            x[i] = -1;
        }
    }
    group_sync<G>();
}

}  // namespace semrsm::cuda
