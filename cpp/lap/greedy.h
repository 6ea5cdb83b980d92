// The greedy matcher of Wald et al., "Decoupling Semantic Similarity from Spatial Alignment for
// Neural Networks", NeurIPS 2024, sec. 3.2: rows are visited in order of their best score, and each
// takes the best column still free in its own ranking. In minimisation form "best" is "cheapest".
//
// The authors' code ranks along the wrong axis of the score matrix, which leaves it close to a
// random pairing on Gaussian costs; this follows the rule as the paper states it. Ties go to the
// lower row, then the lower column.
#pragma once

#include <numeric>

#include "lap/common.h"
#include "lap/row_minima.h"

namespace semrsm {

template <class T>
void solve_greedy(const T* c, int n, int m, int32_t* x, LapWorkspace& ws) {
    ws.reserve(n, m);
    // A taken column gets v = -inf, so its reduced cost c - v is +inf and row_minima skips it.
    double* v = ws.d.data();
    for (int j = 0; j < m; ++j) v[j] = 0.0;
    std::vector<double> row_best(n);
    std::vector<int32_t> order(n);
    for (int i = 0; i < n; ++i) row_best[i] = row_minima(c + (int64_t)i * m, v, m).best;
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return row_best[a] < row_best[b]; });
    for (const int i : order) {
        const int j = row_minima(c + (int64_t)i * m, v, m).jbest;
        v[j] = -kInf;
        x[i] = j;
    }
}

// Lower bound for a heuristic assignment with no potentials of its own: the better of the row-wise
// bound (each row at its minimum) and the column-wise one (the n cheapest column minima). Each is a
// float64 sum of exact entries, lowered by its rounding allowance (dual_lower_bound, row_minima.h), so
// that it bounds the exact optimum.
template <class T>
double row_column_lower_bound(const T* c, int n, int m) {
    double rows = 0.0, rows_magnitude = 0.0;
    std::vector<double> col_min(m, kInf);
    for (int i = 0; i < n; ++i) {
        const T* ci = c + (int64_t)i * m;
        double row_min = kInf;
        for (int j = 0; j < m; ++j) {
            const double h = ci[j];
            row_min = std::min(row_min, h);
            col_min[j] = std::min(col_min[j], h);
        }
        rows += row_min;
        rows_magnitude += std::fabs(row_min);
    }
    std::partial_sort(col_min.begin(), col_min.begin() + n, col_min.end());
    double cols = 0.0, cols_magnitude = 0.0;
    for (int k = 0; k < n; ++k) { cols += col_min[k]; cols_magnitude += std::fabs(col_min[k]); }
    auto lowered = [n](double total, double magnitude) {
        const double lower = total - rounding_allowance(n + 1, magnitude);
        return lower == lower ? std::nextafter(lower, -kInf) : -kInf;
    };
    return std::max(lowered(rows, rows_magnitude), lowered(cols, cols_magnitude));
}

}  // namespace semrsm
