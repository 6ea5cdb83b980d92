// The GPU twin of cpp/lap/row_minima.h: the two smallest reduced costs of a row (the step of a bid
// and of augmenting row reduction), and the dual lower bound that certifies a solve.
#pragma once

#include "lap/common.cuh"
#include "lap/status.h"

namespace semrsm::cuda {

// Best and second best column of row ci over the reduced costs sign * c - v (a bid, or an ARR step).
template <class T, int G, int CPL>
__device__ __forceinline__ Top2 row_top2(GroupProblem<T, G, CPL>& p, const T* ci) {
    Top2 t{CUDART_INF, UINT_MAX, CUDART_INF, UINT_MAX};
#pragma unroll
    for (int k = 0; k < CPL; ++k) {
        if (!p.has(k)) continue;
        const unsigned j = (unsigned)p.column(k);
        const double h = p.cost(ci, j) - p.v[k];
        if (before(h, j, t.m1, t.k1)) { t.m2 = t.m1; t.k2 = t.k1; t.m1 = h; t.k1 = j; }
        else if (before(h, j, t.m2, t.k2)) { t.m2 = h; t.k2 = j; }
    }
    t = group_top2<G>(t, p.sh);
    // A row whose every h is NaN (an overflowed difference) selects no column: column 0 then, as on
    // the CPU (cpp/lap/row_minima.h), so that no caller indexes with UINT_MAX.
    if (t.k1 == UINT_MAX) t.k1 = 0;
    if (t.k2 == UINT_MAX) t.k2 = t.k1;
    return t;
}

// Writes the solved problem's results, as the CPU engine returns them: the column of each row, the
// objective and the certificate of dual_lower_bound (cpp/lap/row_minima.h): with v shifted to
// v_j <= 0 when n < m and u_i = min_j (c_ij - v_j), sum u + sum v is a lower bound on the optimum;
// u and v in the caller's sign.
template <class T, int G, int CPL>
__device__ __forceinline__ void write_solution(GroupProblem<T, G, CPL>& p, int32_t* co, double* objective_out,
                                               double* bound_out, double* uo, double* vo, int8_t* status_out) {
    constexpr int W = G / 32;
    const int n = p.n, m = p.m, tid = p.tid;
    double vmax = -CUDART_INF, vsum = 0.0;
#pragma unroll
    for (int k = 0; k < CPL; ++k) {
        if (!p.has(k)) continue;
        vo[p.column(k)] = p.v[k];
        vmax = fmax(vmax, p.v[k]);
        vsum += p.v[k];
    }
    const double shift = n < m ? group_reduce<G>(vmax, Op::max, p.sh) : 0.0;
    vsum = group_reduce<G>(vsum, Op::sum, p.sh);
    group_sync<G>();  // vo is read by other threads below
    const int lane = tid & 31, warp = tid >> 5;
    double usum = 0.0, objective = 0.0;
    for (int i = warp; i < n; i += W) {
        const T* ci = p.row(i);
        const int xi = p.sh.x[i];
        double umin = CUDART_INF;
        for (int j = lane; j < m; j += 32) {
            const double cij = p.cost(ci, j);
            umin = fmin(umin, cij - vo[j]);
            if (j == xi) objective += cij;
        }
#pragma unroll
        for (int off = 16; off; off >>= 1) umin = fmin(umin, __shfl_xor_sync(kFull, umin, off));
        if (lane == 0) {
            uo[i] = p.sign * umin;
            usum += umin + shift;
            co[i] = xi;
        }
    }
    usum = group_reduce<G>(usum, Op::sum, p.sh);
    objective = group_reduce<G>(objective, Op::sum, p.sh);
    group_sync<G>();
#pragma unroll
    for (int k = 0; k < CPL; ++k)
        if (p.has(k)) vo[p.column(k)] = p.sign * p.v[k];
    if (tid == 0) {
        *objective_out = p.sign * objective;
        *bound_out = p.sign * (vsum - (double)m * shift + usum);
        *status_out = (int8_t)LapStatus::ok;
    }
}

// An infeasible problem (only forbidden edges left for some row): reported, never asserted.
template <class T, int G, int CPL>
__device__ __forceinline__ void write_infeasible(const GroupProblem<T, G, CPL>& p, int32_t* co, double* objective_out,
                                                 double* bound_out, double* uo, double* vo, int8_t* status_out) {
    for (int i = p.tid; i < p.n; i += G) { co[i] = -1; uo[i] = CUDART_NAN; }
    for (int j = p.tid; j < p.m; j += G) vo[j] = CUDART_NAN;
    if (p.tid == 0) {
        *objective_out = CUDART_NAN;
        *bound_out = CUDART_NAN;
        *status_out = (int8_t)LapStatus::infeasible;
    }
}

}  // namespace semrsm::cuda
