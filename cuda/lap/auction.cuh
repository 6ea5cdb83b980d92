// The GPU twin of cpp/lap/auction.h: forward auction with epsilon-scaling, Gauss-Seidel (Bertsekas,
// "The auction algorithm: a distributed relaxation method for the assignment problem", Annals of
// Operations Research 14 (1988) 105-123), step for step as on the CPU: the free row at the head of the
// queue takes its best column j1 and lowers v_j1 until j1 is eps dearer than its second best; the row
// it displaces joins the tail. Every phase starts with all rows free and keeps the potentials; the
// schedule is cpp/lap/auction_schedule.h's.
#pragma once

#include "lap/auction_schedule.h"
#include "lap/common.cuh"
#include "lap/row_minima.cuh"

namespace semrsm::cuda {

// Runs the phases from eps.start down to eps.final on a square problem whose potentials v start at its
// column minima (cuda/lap/jv.cuh column_reduction); every row ends assigned.
template <class T, int G, int CPL>
__device__ __forceinline__ void auction(GroupProblem<T, G, CPL>& p, EpsRange eps_range) {
    const int n = p.n, tid = p.tid;
    int* const x = p.sh.x;
    int* const y = p.sh.y;
    for (double eps = eps_range.start;; eps = fmax(eps / kAuctionFactor, eps_range.final)) {
#pragma unroll
        for (int k = 0; k < CPL; ++k)
            if (p.has(k)) y[p.column(k)] = -1;
        for (int i = tid; i < n; i += G) { x[i] = -1; p.sh.queue[i] = i; }
        group_sync<G>();
        for (int head = 0, count = n; head < count;) {
            const int i = p.sh.queue[head % n];
            ++head;
            const Top2 t = row_top2(p, p.row(i));
            const int j1 = (int)t.k1;
#pragma unroll
            for (int k = 0; k < CPL; ++k)
                if (p.column(k) == j1) p.v[k] -= (t.m2 == CUDART_INF ? 0.0 : t.m2 - t.m1) + eps;
            const int previous = y[j1];
            group_sync<G>();  // every thread has read y before it changes
            if (tid == 0) {
                y[j1] = i;
                x[i] = j1;
                if (previous >= 0) {
                    x[previous] = -1;
                    p.sh.queue[count % n] = previous;
                }
            }
            if (previous >= 0) ++count;
            group_sync<G>();
        }
        if (eps <= eps_range.final) break;
    }
}

}  // namespace semrsm::cuda
