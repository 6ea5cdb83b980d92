// Shortest augmenting path step of Jonker & Volgenant, "A shortest augmenting path algorithm for
// dense and sparse linear assignment problems", Computing 38 (1987) 325-340, section 3 (procedure
// AUGMENT), in the rectangular form of Crouse, "On implementing 2D rectangular assignment
// algorithms", IEEE TAES 52(4) 2016.
//
// Invariant on entry: every assigned row i has its column x[i] at the minimum of c[i][.] - v[.].
// Dijkstra on the reduced costs from the free row f finds the cheapest alternating path to a free
// column; the potentials of the settled columns are raised so the invariant holds again, and the
// path is flipped. Starting from v = 0 with all rows free this solves rectangular problems exactly:
// potentials of columns that end unassigned stay 0 and all others only decrease (Crouse, sec. III).
//
// Dense form: where the paper keeps a list of unscanned columns (an indirection per column, which
// defeats SIMD), every column keeps its distance, predecessor and a settled flag, and one pass
// over the row being scanned both relaxes the distances and picks the next column to settle. The
// pass has an AVX2 path (row_minima.h explains the dispatch). Among columns at the smallest
// distance a free one ends the path at once; otherwise the lowest index is settled first.
#pragma once

#include "lap/common.h"
#include "lap/row_minima.h"

namespace semrsm {

struct NextColumn {
    double dmin;  // smallest distance of an unsettled column
    int jmin;     // the first unsettled column at dmin
    double fmin;  // smallest distance of an unsettled free column
    int jfree;    // the first free column at fmin
};

// Relaxes d through row i (d_j = min(d_j, c_ij - v_j - u1) for unsettled j, pred_j = i where it
// improves), then returns the unsettled columns nearest to the root.
template <class T>
NextColumn relax_and_select_scalar(const T* ci, const double* v, double u1, double i, double* d,
                                   double* pred, const uint64_t* settled, const uint64_t* free_mask,
                                   int m, int from = 0,
                                   NextColumn next = {kInf, -1, kInf, -1}) {
    for (int j = from; j < m; ++j) {
        if (settled[j]) continue;
        const double h = (double)ci[j] - v[j] - u1;
        if (h < d[j]) { d[j] = h; pred[j] = i; }
        if (d[j] < next.dmin) { next.dmin = d[j]; next.jmin = j; }
        if (free_mask[j] && d[j] < next.fmin) { next.fmin = d[j]; next.jfree = j; }
    }
    return next;
}

#ifdef SEMRSM_HAVE_AVX2_PATH
namespace detail {

template <class T>
__attribute__((target("avx2"))) NextColumn relax_and_select_avx2(
        const T* ci, const double* v, double u1, double i, double* d, double* pred,
        const uint64_t* settled, const uint64_t* free_mask, int m) {
    const __m256d inf = _mm256_set1_pd(kInf), shift = _mm256_set1_pd(u1), row = _mm256_set1_pd(i);
    const __m256d four = _mm256_set1_pd(4.0);
    __m256d index = _mm256_set_pd(3.0, 2.0, 1.0, 0.0);
    __m256d best = inf, best_at = _mm256_setzero_pd(), best_free = inf, best_free_at = _mm256_setzero_pd();
    int j = 0;
    for (; j + 4 <= m; j += 4) {
        const __m256d done = _mm256_castsi256_pd(_mm256_loadu_si256((const __m256i*)(settled + j)));
        const __m256d is_free = _mm256_castsi256_pd(_mm256_loadu_si256((const __m256i*)(free_mask + j)));
        const __m256d h = _mm256_sub_pd(_mm256_sub_pd(load4(ci + j), _mm256_loadu_pd(v + j)), shift);
        __m256d dist = _mm256_loadu_pd(d + j);
        const __m256d improves = _mm256_andnot_pd(done, _mm256_cmp_pd(h, dist, _CMP_LT_OQ));
        if (_mm256_movemask_pd(improves)) {  // late in a search most columns do not improve
            dist = _mm256_blendv_pd(dist, h, improves);
            _mm256_storeu_pd(d + j, dist);
            _mm256_storeu_pd(pred + j, _mm256_blendv_pd(_mm256_loadu_pd(pred + j), row, improves));
        }
        const __m256d open = _mm256_blendv_pd(dist, inf, done);
        const __m256d lower = _mm256_cmp_pd(open, best, _CMP_LT_OQ);
        best = _mm256_blendv_pd(best, open, lower);
        best_at = _mm256_blendv_pd(best_at, index, lower);
        const __m256d open_free = _mm256_blendv_pd(inf, open, is_free);
        const __m256d lower_free = _mm256_cmp_pd(open_free, best_free, _CMP_LT_OQ);
        best_free = _mm256_blendv_pd(best_free, open_free, lower_free);
        best_free_at = _mm256_blendv_pd(best_free_at, index, lower_free);
        index = _mm256_add_pd(index, four);
    }
    alignas(32) double b[4], ba[4], f[4], fa[4];
    _mm256_store_pd(b, best); _mm256_store_pd(ba, best_at);
    _mm256_store_pd(f, best_free); _mm256_store_pd(fa, best_free_at);
    NextColumn next{kInf, -1, kInf, -1};
    for (int l = 0; l < 4; ++l) {
        if (b[l] < next.dmin || (b[l] == next.dmin && b[l] < kInf && (int)ba[l] < next.jmin))
            { next.dmin = b[l]; next.jmin = (int)ba[l]; }
        if (f[l] < next.fmin || (f[l] == next.fmin && f[l] < kInf && (int)fa[l] < next.jfree))
            { next.fmin = f[l]; next.jfree = (int)fa[l]; }
    }
    return relax_and_select_scalar(ci, v, u1, i, d, pred, settled, free_mask, m, j, next);
}

}  // namespace detail
#endif

template <class T>
NextColumn relax_and_select(const T* ci, const double* v, double u1, int i, double* d, double* pred,
                            const uint64_t* settled, const uint64_t* free_mask, int m) {
#ifdef SEMRSM_HAVE_AVX2_PATH
    if (detail::cpu_has_avx2())
        return detail::relax_and_select_avx2(ci, v, u1, (double)i, d, pred, settled, free_mask, m);
#endif
    return relax_and_select_scalar(ci, v, u1, (double)i, d, pred, settled, free_mask, m);
}

template <class T>
LapStatus augment_from_row(const T* c, int m, int f, int32_t* x, int32_t* y, double* v,
                           LapWorkspace& ws) {
    double* d = ws.d.data();
    double* pred = ws.pred.data();
    uint64_t* settled = ws.settled.data();
    uint64_t* free_mask = ws.free_mask.data();
    int32_t* order = ws.cols.data();
    for (int j = 0; j < m; ++j) {
        d[j] = kInf;
        settled[j] = 0;
        free_mask[j] = y[j] < 0 ? ~uint64_t(0) : 0;
    }
    int nsettled = 0, end;
    NextColumn next = relax_and_select(c + (int64_t)f * m, v, 0.0, f, d, pred, settled, free_mask, m);
    while (true) {
        if (next.dmin == kInf) return LapStatus::infeasible;  // only forbidden edges remain
        if (next.fmin == next.dmin) { end = next.jfree; break; }
        const int j1 = next.jmin;
        settled[j1] = ~uint64_t(0);
        order[nsettled++] = j1;
        const int i = y[j1];
        const T* ci = c + (int64_t)i * m;
        const double u1 = (double)ci[j1] - v[j1] - next.dmin;
        next = relax_and_select(ci, v, u1, i, d, pred, settled, free_mask, m);
    }
    // Settled columns have d <= dmin; lowering their reduced costs by dmin - d keeps every
    // assigned edge tight and every reduced cost non-negative.
    const double dmin = next.dmin;
    for (int k = 0; k < nsettled; ++k) {
        const int j = order[k];
        v[j] += d[j] - dmin;
    }
    int i;
    do {
        i = (int)pred[end];
        y[end] = i;
        const int following = x[i];
        x[i] = end;
        end = following;
    } while (i != f);
    return LapStatus::ok;
}

// Augments every row in rows[0..count) in turn; polls `cancel` between rows.
template <class T>
LapStatus augment_rows(const T* c, int m, const int32_t* rows, int count, int32_t* x, int32_t* y,
                       double* v, LapWorkspace& ws, const std::atomic<bool>* cancel) {
    for (int k = 0; k < count; ++k) {
        if (cancel_requested(cancel)) return LapStatus::cancelled;
        const LapStatus status = augment_from_row(c, m, rows[k], x, y, v, ws);
        if (status != LapStatus::ok) return status;
    }
    return LapStatus::ok;
}

}  // namespace semrsm
