// The GPU twin of cpp/lap/jv.h: Jonker & Volgenant, "A shortest augmenting path algorithm for dense
// and sparse linear assignment problems", Computing 38 (1987) 325-340, sec. 3: column reduction and
// augmenting row reduction, group-wide; the shortest augmenting paths that finish the solve are in
// cuda/lap/sap.cuh.
#pragma once

#include "lap/common.cuh"
#include "lap/row_minima.cuh"
#include "lap/rules.h"

namespace semrsm::cuda {

// What column reduction learns about a square problem on the way: whether some column is all
// forbidden (infeasible), the range of its finite costs, and how many rows it leaves free.
struct ColumnReduction {
    bool infeasible;
    bool forbidden;  // some entry is +inf (after the sign)
    bool integral;   // every finite cost is an integer
    double lo, hi;   // smallest and largest finite cost
    int nfree;
};

// Column reduction (JV sec. 3): v_j = min_i c_ij; each column claims its argmin row if no column took
// it first. Claimed edges have zero reduced cost at the row minimum, as augmentation requires; columns
// left unclaimed stay free. Square problems only.
template <class T, int G, int CPL>
__device__ __forceinline__ ColumnReduction column_reduction(GroupProblem<T, G, CPL>& p) {
    const int n = p.n;
    double lo = CUDART_INF, hi = -CUDART_INF;
    bool integral = true, forbidden = false;
    double best[CPL];
    int arg[CPL];
#pragma unroll
    for (int k = 0; k < CPL; ++k) { best[k] = CUDART_INF; arg[k] = -1; }
#pragma unroll 4
    for (int i = 0; i < n; ++i) {
        const T* ci = p.row(i);
#pragma unroll
        for (int k = 0; k < CPL; ++k) {
            if (!p.has(k)) continue;
            const double h = p.cost(ci, p.column(k));
            if (h < best[k]) { best[k] = h; arg[k] = i; }
            if (h == CUDART_INF) {
                forbidden = true;
            } else {
                lo = fmin(lo, h);
                hi = fmax(hi, h);
                integral = integral && h == floor(h);
            }
        }
    }
    bool empty_column = false;
#pragma unroll
    for (int k = 0; k < CPL; ++k) {
        if (!p.has(k)) continue;
        if (arg[k] < 0) { empty_column = true; continue; }  // every entry forbidden
        p.v[k] = best[k];
        const int j = p.column(k);
        if (atomicCAS(&p.sh.x[arg[k]], -1, j) == -1) p.sh.y[j] = arg[k];
    }
    ColumnReduction r;
    if constexpr (G == 32) r.infeasible = __any_sync(kFull, empty_column);
    else r.infeasible = __syncthreads_or(empty_column);
    group_sync<G>();
    double nfree = 0.0;
    for (int i = p.tid; i < n; i += G) nfree += p.sh.x[i] < 0 ? 1.0 : 0.0;
    r.nfree = (int)group_reduce<G>(nfree, Op::sum, p.sh);
    r.forbidden = group_reduce<G>(forbidden ? 1.0 : 0.0, Op::max, p.sh) > 0.0;
    r.lo = group_reduce<G>(lo, Op::min, p.sh);
    r.hi = group_reduce<G>(hi, Op::max, p.sh);
    r.integral = group_reduce<G>(integral ? 0.0 : 1.0, Op::max, p.sh) == 0.0;
    return r;
}

// Augmenting row reduction (JV sec. 3): a free row i takes its best column j1, lowering v_j1 until j1
// ties with the second best (u2 - u1), and displaces j1's row, which is processed next (strict
// decrease) or queued (tie, then i takes the second best column). It keeps the invariant of the
// augmentation and assigns most rows in one row scan each; its steps are capped (cpp/lap/rules.h),
// and whatever stays free is left to the shortest augmenting paths. Returns false when a row has
// every entry forbidden (the problem is infeasible).
template <class T, int G, int CPL>
__device__ __forceinline__ bool augmenting_row_reduction(GroupProblem<T, G, CPL>& p) {
    const int n = p.n, tid = p.tid;
    int* const x = p.sh.x;
    int* const y = p.sh.y;
    if (tid == 0) {
        int k = 0;
        for (int i = 0; i < n; ++i)
            if (x[i] < 0) p.sh.queue[k++] = i;
        *p.sh.count = k;
    }
    group_sync<G>();
    int count = *p.sh.count, head = 0;
    for (long long budget = arr_step_budget_gpu(n); head < count && budget > 0; --budget) {
        const int i = p.sh.queue[head % n];
        ++head;
        const Top2 t = row_top2(p, p.row(i));
        if (t.m1 == CUDART_INF) return false;  // a row with every entry forbidden
        if (t.m2 == CUDART_INF) continue;      // one usable column: leave the row to the paths
        int j1 = (int)t.k1;
        int i0 = y[j1];
        const bool strict = t.m1 < t.m2;
        if (strict) {
#pragma unroll
            for (int k = 0; k < CPL; ++k)
                if (p.column(k) == j1) p.v[k] -= t.m2 - t.m1;
        } else if (i0 >= 0) {
            j1 = (int)t.k2;
            i0 = y[j1];
        }
        group_sync<G>();  // every thread has read y before it changes
        if (tid == 0) {
            x[i] = j1;
            y[j1] = i;
            if (i0 >= 0) {
                x[i0] = -1;
                if (strict) p.sh.queue[(head - 1) % n] = i0;
                else p.sh.queue[count % n] = i0;
            }
        }
        if (i0 >= 0) {
            if (strict) --head;
            else ++count;
        }
        group_sync<G>();
    }
    return true;
}

}  // namespace semrsm::cuda
