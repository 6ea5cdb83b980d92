// Float64 reductions over the vectors of a pair: the objective of a permutation, and the norm bound.
#pragma once

#include <cstdint>

namespace semrsm {

// sum_s <a[s], b[perm[s]]> accumulated in float64, whatever precision the cost block was built in.
template <class T>
double permuted_inner(const T* a, const T* b, int S, int C, const int32_t* perm) {
    double total = 0.0;
    for (int s = 0; s < S; ++s) {
        const T* as = a + (int64_t)s * C;
        const T* bs = b + (int64_t)perm[s] * C;
        double dot = 0.0;
        for (int c = 0; c < C; ++c) dot += (double)as[c] * (double)bs[c];
        total += dot;
    }
    return total;
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
