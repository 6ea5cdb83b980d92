// Float64 reductions over the vectors of a pair: the objective of a permutation, and the norm bound.
#pragma once

#include <cstdint>

#include "cost/gemm.h"  // SEMRSM_ALWAYS_INLINE, cpu_has_avx2_fma

namespace semrsm {

// <a, b> over C entries in float64, in eight interleaved partial sums: each lane is its own
// accumulator, so the loop vectorises without reassociation and the result is deterministic.
template <class T>
SEMRSM_ALWAYS_INLINE double dot_f64(const T* a, const T* b, int C) {
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int c = 0;
    for (; c + 8 <= C; c += 8)
        for (int l = 0; l < 8; ++l) lane[l] += (double)a[c + l] * (double)b[c + l];
    double tail = 0.0;
    for (; c < C; ++c) tail += (double)a[c] * (double)b[c];
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7])) + tail;
}

template <class T>
SEMRSM_ALWAYS_INLINE double permuted_inner_kernel(const T* a, const T* b, int S, int C, const int32_t* perm) {
    double total = 0.0;
    for (int s = 0; s < S; ++s) total += dot_f64(a + (int64_t)s * C, b + (int64_t)perm[s] * C, C);
    return total;
}

#if defined(__GNUC__) && defined(__x86_64__)
template <class T>
__attribute__((target("avx2,fma"))) double permuted_inner_avx2(const T* a, const T* b, int S, int C,
                                                                const int32_t* perm) {
    return permuted_inner_kernel(a, b, S, C, perm);
}
#endif

// sum_s <a[s], b[perm[s]]> accumulated in float64, whatever precision the cost block was built in.
template <class T>
double permuted_inner(const T* a, const T* b, int S, int C, const int32_t* perm) {
#if defined(__GNUC__) && defined(__x86_64__)
    if (cpu_has_avx2_fma()) return permuted_inner_avx2(a, b, S, C, perm);
#endif
    return permuted_inner_kernel(a, b, S, C, perm);
}

// An upper bound on the semantic objective from position norms alone: by Cauchy-Schwarz and the
// rearrangement inequality, sum_s <a_s, b_P(s)> <= sum_s |a_s| |b_P(s)| <= sum_r |a|_(r) |b|_(r)
// with both norm lists sorted in decreasing order. O(S); valid for every permutation P.
inline double norm_rearrangement_bound(const double* sorted_norms_a, const double* sorted_norms_b, int S) {
    double total = 0.0;
    for (int r = 0; r < S; ++r) total += sorted_norms_a[r] * sorted_norms_b[r];
    return total;
}

}  // namespace semrsm
