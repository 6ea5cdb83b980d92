// The inner loop of row reduction and of auction bidding: the smallest and second smallest reduced
// cost c_j - v_j of one row, and the first column at the smallest. This is most of the time of JV on
// random costs and of the auction on all costs, so it has an AVX2 path, chosen at run time so that
// one wheel runs on every x86-64 CPU, and a portable scalar path that defines the result.
#pragma once

#include <cstdint>

#include "lap/common.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SEMRSM_HAVE_AVX2_PATH 1
#endif

namespace semrsm {

struct RowMinima {
    double best;    // smallest c_j - v_j
    double second;  // smallest over the other columns (equal to best on a tie)
    int jbest;      // first column at best; column 0 when no c_j - v_j compares below +inf
};

// jbest starts at column 0, not -1: where every c_j - v_j is +inf or NaN (a difference that
// overflowed) no entry compares lower, and callers write through jbest (a -1 there corrupted the
// heap on costs near the float64 maximum). Both paths return an index in [0, m) for m >= 1.
template <class T>
RowMinima row_minima_scalar(const T* c, const double* v, int m, int from = 0,
                            RowMinima acc = {kInf, kInf, 0}) {
    for (int j = from; j < m; ++j) {
        const double h = (double)c[j] - v[j];
        if (h < acc.second) {
            if (h < acc.best) { acc.second = acc.best; acc.best = h; acc.jbest = j; }
            else acc.second = h;
        }
    }
    return acc;
}

#ifdef SEMRSM_HAVE_AVX2_PATH
namespace detail {

__attribute__((target("avx2"))) inline __m256d load4(const float* c) {
    return _mm256_cvtps_pd(_mm_loadu_ps(c));
}
__attribute__((target("avx2"))) inline __m256d load4(const double* c) { return _mm256_loadu_pd(c); }

// Eight lanes (two registers, so that consecutive steps do not wait on each other) each keep their
// own two smallest values and the index of the smallest; the lanes are merged at the end, lowest
// index first among equal values, and the tail goes through the scalar path.
struct LaneMinima {
    __m256d m1, m2, index;
};

template <class T>
__attribute__((target("avx2"))) inline void lane_step(const T* c, const double* v, __m256d index,
                                                      LaneMinima& lanes) {
    const __m256d h = _mm256_sub_pd(load4(c), _mm256_loadu_pd(v));
    const __m256d lower = _mm256_cmp_pd(h, lanes.m1, _CMP_LT_OQ);
    lanes.m2 = _mm256_min_pd(lanes.m2, _mm256_max_pd(h, lanes.m1));
    lanes.m1 = _mm256_blendv_pd(lanes.m1, h, lower);
    lanes.index = _mm256_blendv_pd(lanes.index, index, lower);
}

__attribute__((target("avx2"))) inline __m256d equal_lanes(__m256d x, __m256d y) {
    return _mm256_cmp_pd(x, y, _CMP_EQ_OQ);
}

// Every lane holds the minimum of the four.
__attribute__((target("avx2"))) inline __m256d all_lanes_min(__m256d x) {
    x = _mm256_min_pd(x, _mm256_permute2f128_pd(x, x, 1));
    return _mm256_min_pd(x, _mm256_shuffle_pd(x, x, 0b0101));
}

template <class T>
__attribute__((target("avx2"))) RowMinima row_minima_avx2(const T* c, const double* v, int m) {
    const __m256d inf = _mm256_set1_pd(kInf);
    LaneMinima a{inf, inf, _mm256_setzero_pd()}, b{inf, inf, _mm256_setzero_pd()};
    __m256d index = _mm256_set_pd(3.0, 2.0, 1.0, 0.0);
    const __m256d four = _mm256_set1_pd(4.0), eight = _mm256_set1_pd(8.0);
    int j = 0;
    for (; j + 8 <= m; j += 8) {
        lane_step(c + j, v + j, index, a);
        lane_step(c + j + 4, v + j + 4, _mm256_add_pd(index, four), b);
        index = _mm256_add_pd(index, eight);
    }
    if (j == 0) return row_minima_scalar(c, v, m);
    // The lanes merged in registers (a scalar merge with its branches cost as much as the loop on
    // rows of 49-128 columns): the smallest value, the lowest column holding it, and the smallest of
    // every lane's second value and of the other lanes' smallest. `at` is a column index whatever the
    // values: lanes start at index 0 and m1 = +inf and take only indices of columns read, m1 is never
    // NaN (NaN compares false, max/min return their second operand), so some lane equals `best`.
    const __m256d best = all_lanes_min(_mm256_min_pd(a.m1, b.m1));
    const __m256d at = all_lanes_min(_mm256_min_pd(_mm256_blendv_pd(inf, a.index, equal_lanes(a.m1, best)),
                                                   _mm256_blendv_pd(inf, b.index, equal_lanes(b.m1, best))));
    const __m256d others = _mm256_min_pd(_mm256_blendv_pd(a.m1, inf, equal_lanes(a.index, at)),
                                         _mm256_blendv_pd(b.m1, inf, equal_lanes(b.index, at)));
    const __m256d second = all_lanes_min(_mm256_min_pd(_mm256_min_pd(a.m2, b.m2), others));
    RowMinima acc{_mm256_cvtsd_f64(best), _mm256_cvtsd_f64(second), (int)_mm256_cvtsd_f64(at)};
    return row_minima_scalar(c, v, m, j, acc);
}

// One row's step of a row-major sweep for column minima: where c_j < v_j, v_j = c_j and
// row_of_min_j = i (a double, so both blend under the same mask).
template <class T>
__attribute__((target("avx2"))) void column_minima_step_avx2(const T* c, int m, double i, double* v,
                                                             double* row_of_min) {
    const __m256d row = _mm256_set1_pd(i);
    int j = 0;
    for (; j + 4 <= m; j += 4) {
        const __m256d h = load4(c + j);
        const __m256d best = _mm256_loadu_pd(v + j);
        const __m256d lower = _mm256_cmp_pd(h, best, _CMP_LT_OQ);
        _mm256_storeu_pd(v + j, _mm256_blendv_pd(best, h, lower));
        _mm256_storeu_pd(row_of_min + j, _mm256_blendv_pd(_mm256_loadu_pd(row_of_min + j), row, lower));
    }
    for (; j < m; ++j)
        if ((double)c[j] < v[j]) { v[j] = c[j]; row_of_min[j] = i; }
}

// any_nonzero_below, four lanes at a time: |c| by clearing the sign bit, first only |c| < threshold
// (one compare: costs with no zeros and none that small, most of them, are done then), and where that
// finds some, again with 0 < |c|.
template <class T>
__attribute__((target("avx2"))) bool any_nonzero_below_avx2(const T* c, int64_t size, double threshold,
                                                             int64_t* done) {
    const __m256d magnitude = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    const __m256d limit = _mm256_set1_pd(threshold), zero = _mm256_setzero_pd();
    __m256d small = zero;
    int64_t k = 0;
    for (; k + 8 <= size; k += 8) {
        small = _mm256_or_pd(small, _mm256_cmp_pd(_mm256_and_pd(load4(c + k), magnitude), limit, _CMP_LT_OQ));
        small = _mm256_or_pd(small, _mm256_cmp_pd(_mm256_and_pd(load4(c + k + 4), magnitude), limit, _CMP_LT_OQ));
    }
    *done = k;
    if (!_mm256_movemask_pd(small)) return false;
    __m256d hit = zero;
    for (int64_t i = 0; i < k; i += 4) {
        const __m256d a = _mm256_and_pd(load4(c + i), magnitude);
        hit = _mm256_or_pd(hit, _mm256_and_pd(_mm256_cmp_pd(a, limit, _CMP_LT_OQ), _mm256_cmp_pd(a, zero, _CMP_GT_OQ)));
    }
    return _mm256_movemask_pd(hit) != 0;
}

inline bool cpu_has_avx2() {
    static const bool has = __builtin_cpu_supports("avx2");
    return has;
}

}  // namespace detail
#endif

template <class T>
RowMinima row_minima(const T* c, const double* v, int m) {
#ifdef SEMRSM_HAVE_AVX2_PATH
    if (detail::cpu_has_avx2()) return detail::row_minima_avx2(c, v, m);
#endif
    return row_minima_scalar(c, v, m);
}

template <class T>
void column_minima_step(const T* c, int m, int i, double* v, double* row_of_min) {
#ifdef SEMRSM_HAVE_AVX2_PATH
    if (detail::cpu_has_avx2()) return detail::column_minima_step_avx2(c, m, (double)i, v, row_of_min);
#endif
    for (int j = 0; j < m; ++j)
        if ((double)c[j] < v[j]) { v[j] = c[j]; row_of_min[j] = i; }
}

// Whether some entry of c[0..size) is nonzero and below `threshold` in magnitude (the engine's test
// for costs spanning more than the auction and JV's column reduction resolve, cpp/engine/batch.cpp).
template <class T>
bool any_nonzero_below(const T* c, int64_t size, double threshold) {
    int64_t k = 0;
#ifdef SEMRSM_HAVE_AVX2_PATH
    if (detail::cpu_has_avx2() && detail::any_nonzero_below_avx2(c, size, threshold, &k)) return true;
#endif
    for (; k < size; ++k) {
        const double a = std::fabs((double)c[k]);
        if (a > 0.0 && a < threshold) return true;
    }
    return false;
}

// A lower bound on the minimum of any assignment, from column potentials v alone (weak LP duality):
// with u_i = min_j (c_ij - v_j), sum u + sum v <= optimum whenever v_j <= 0 for the columns a
// rectangular problem may leave unassigned; v is shifted to satisfy that (into `scratch`, m
// entries, allocated here if none is given), which keeps the bound valid.
//
// The sum is formed in float64: each u_i is one rounding of its exact value (rounding is monotone,
// so the smallest rounded difference is the rounded smallest), then n + m - 1 additions, so the
// computed sum is within gamma_{n+m} (sum |u_i| + sum |v_j|) of the exact one (Higham, "Accuracy and
// Stability of Numerical Algorithms", 2nd ed., sec. 3.1; gamma_k = k u / (1 - k u), u = 2^-53).
// That allowance (with one more term for its own rounding) is subtracted, and the result rounded
// down once more, so the bound holds for the exact optimum of c, not only up to rounding. An
// allowance that overflows gives -inf, a bound that says nothing rather than a false one.
inline double rounding_allowance(int terms, double magnitude) {
    const double k = terms * 0x1p-53;
    return k / (1.0 - k) * magnitude;
}

// A computed sum of `terms` potentials lowered by that allowance: a bound for the exact optimum.
inline double lowered_bound(double total, double magnitude, int terms) {
    const double lower = total - rounding_allowance(terms + 2, magnitude);
    return lower == lower ? std::nextafter(lower, -kInf) : -kInf;
}

template <class T>
double dual_lower_bound(const T* c, int n, int m, const double* v, double* scratch = nullptr) {
    std::vector<double> own;
    if (n < m) {
        if (!scratch) {
            own.resize(m);
            scratch = own.data();
        }
        const double shift = *std::max_element(v, v + m);
        for (int j = 0; j < m; ++j) scratch[j] = v[j] - shift;
        v = scratch;
    }
    double total = 0.0, magnitude = 0.0;
    for (int j = 0; j < m; ++j) { total += v[j]; magnitude += std::fabs(v[j]); }
    for (int i = 0; i < n; ++i) {
        const double u = row_minima(c + (int64_t)i * m, v, m).best;
        total += u;
        magnitude += std::fabs(u);
    }
    return lowered_bound(total, magnitude, n + m);
}

// dual_lower_bound raised by one step of coordinate ascent (square problems): with u_i = min_j (c_ij -
// v_j), the column potentials w_j = min_i (c_ij - u_i) >= v_j are the best ones for that u, so
// sum u + sum w >= sum u + sum v. On the prices of an auction stopped early the bound lies 2.5-4x
// closer to the optimum (semantic costs, n = 784); further steps gain nothing there. Rounding as in
// dual_lower_bound: each w_j is one rounding of its exact value.
template <class T>
double ascended_dual_lower_bound(const T* c, int n, const double* v) {
    std::vector<double> u(n), w(n, kInf);
    for (int i = 0; i < n; ++i) u[i] = row_minima(c + (int64_t)i * n, v, n).best;
    for (int i = 0; i < n; ++i) {
        const T* ci = c + (int64_t)i * n;
        const double ui = u[i];
#pragma omp simd
        for (int j = 0; j < n; ++j) {
            const double h = (double)ci[j] - ui;
            w[j] = h < w[j] ? h : w[j];
        }
    }
    double ascended = 0.0, ascended_magnitude = 0.0, plain = 0.0, plain_magnitude = 0.0;
    for (int k = 0; k < n; ++k) {
        ascended += u[k] + w[k];
        ascended_magnitude += std::fabs(u[k]) + std::fabs(w[k]);
        plain += u[k] + v[k];
        plain_magnitude += std::fabs(u[k]) + std::fabs(v[k]);
    }
    return std::max(lowered_bound(ascended, ascended_magnitude, 2 * n),
                    lowered_bound(plain, plain_magnitude, 2 * n));
}

}  // namespace semrsm
