// The GPU twin of cpp/lap/sap.h: the shortest augmenting path step of Jonker & Volgenant, "A shortest
// augmenting path algorithm for dense and sparse linear assignment problems", Computing 38 (1987)
// 325-340, sec. 3 (procedure AUGMENT), in the rectangular form of Crouse, "On implementing 2D
// rectangular assignment algorithms", IEEE TAES 52(4) 2016; the parallel layout follows the
// block-per-problem shortest-path solvers (HyLAC's Block-LAP, Kawtikwar & Nagi 2024), with a warp
// per problem for m <= 256.
//
// A Dijkstra step is one group-wide argmin of d over the unscanned columns (warp shuffles, then one
// barrier between warps) and one coalesced pass over the cost row of the column's row. Among columns
// at the smallest distance a free one ends the path at once, then the lowest index, as on the CPU.
#pragma once

#include "lap/common.cuh"

namespace semrsm::cuda {

constexpr unsigned kBusyBit = 1u << 30;  // in an argmin key: the column is assigned

// Dijkstra from the free row f over reduced costs c_ij - v_j, then the path is flipped and the
// potentials of the scanned columns raised so that the invariant holds again. Returns false when only
// forbidden edges remain (the problem is infeasible).
template <class T, int G, int CPL>
__device__ __forceinline__ bool augment_from_row(GroupProblem<T, G, CPL>& p, int f) {
    const int tid = p.tid;
    int* const x = p.sh.x;
    int* const y = p.sh.y;
    int* const pred = p.sh.pred;
    const T* cf = p.row(f);
    unsigned scanned = ~p.valid;  // missing columns count as scanned: never selected
    unsigned freecol = 0;
#pragma unroll
    for (int k = 0; k < CPL; ++k) {
        if (!p.has(k)) continue;
        const int j = p.column(k);
        p.d[k] = p.cost(cf, j) - p.v[k];
        pred[j] = f;
        if (y[j] < 0) freecol |= 1u << k;
    }
    double dmin = 0.0;
    int end = -1;
    for (;;) {
        double ld = CUDART_INF, lv = 0.0;
        unsigned lk = UINT_MAX;
#pragma unroll
        for (int k = 0; k < CPL; ++k) {
            if (scanned >> k & 1) continue;
            const unsigned key = (freecol >> k & 1 ? 0u : kBusyBit) | (unsigned)p.column(k);
            if (p.d[k] < ld || (p.d[k] == ld && key < lk)) { ld = p.d[k]; lk = key; lv = p.v[k]; }
        }
        const Argmin best = group_argmin<G>(ld, lk, lv, p.sh);
        dmin = best.d;
        // Only forbidden edges remain. This also catches a search that selected no column (every d
        // NaN from an overflowed difference, key UINT_MAX), so j1 below is always a column index.
        if (dmin == CUDART_INF) return false;
        const int j1 = (int)(best.key & (kBusyBit - 1));
        if (!(best.key & kBusyBit)) { end = j1; break; }  // a free column: the path is found
        if (j1 % G == tid) scanned |= 1u << (j1 / G);
        const int i = y[j1];
        const T* ci = p.row(i);
        // u1: row i's potential, lowered by dmin so that h below is the path length via i.
        const double u1 = p.cost(ci, j1) - best.v - dmin;
#pragma unroll
        for (int k = 0; k < CPL; ++k) {
            if (scanned >> k & 1) continue;
            const int j = p.column(k);
            const double h = p.cost(ci, j) - p.v[k] - u1;
            if (h < p.d[k]) { p.d[k] = h; pred[j] = i; }
        }
    }
    // Scanned columns have d <= dmin; lowering their potentials by dmin - d keeps every assigned edge
    // tight and every reduced cost non-negative (as in cpp/lap/sap.h).
#pragma unroll
    for (int k = 0; k < CPL; ++k)
        if ((scanned & p.valid) >> k & 1) p.v[k] += p.d[k] - dmin;
    group_sync<G>();
    if (tid == 0) {
        int i;
        do {
            i = pred[end];
            y[end] = i;
            const int next = x[i];
            x[i] = end;
            end = next;
        } while (i != f);
    }
    group_sync<G>();
    return true;
}

// Augments every row still free, in order; false when the problem is infeasible.
template <class T, int G, int CPL>
__device__ __forceinline__ bool augment_rows(GroupProblem<T, G, CPL>& p) {
    for (int f = 0; f < p.n; ++f)
        if (p.sh.x[f] < 0 && !augment_from_row(p, f)) return false;
    return true;
}

}  // namespace semrsm::cuda
