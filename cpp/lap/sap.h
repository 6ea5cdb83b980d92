// Shortest augmenting path step of Jonker & Volgenant, "A shortest augmenting path algorithm for
// dense and sparse linear assignment problems", Computing 38 (1987) 325-340, section 3 (procedure
// AUGMENT), in the rectangular form of Crouse, "On implementing 2D rectangular assignment
// algorithms", IEEE TAES 52(4) 2016.
//
// Invariant on entry: every assigned row i has its column x[i] at the minimum of c[i][.] - v[.].
// Dijkstra on the reduced costs from the free row f finds the cheapest alternating path to a free
// column; the potentials of the scanned columns are raised so the invariant holds again, and the
// path is flipped. Starting from v = 0 with all rows free this solves rectangular problems exactly:
// potentials of columns that end unassigned stay 0 and all others only decrease (Crouse, sec. III).
#pragma once

#include "lap/common.h"

namespace semrsm {

template <class T>
LapStatus augment_from_row(const T* c, int m, int f, int32_t* x, int32_t* y, double* v,
                           LapWorkspace& ws) {
    double* d = ws.d.data();
    int32_t* pred = ws.pred.data();
    int32_t* cols = ws.cols.data();
    const T* cf = c + (int64_t)f * m;
    for (int j = 0; j < m; ++j) {
        d[j] = (double)cf[j] - v[j];
        pred[j] = f;
        cols[j] = j;
    }
    int low = 0, up = 0, end = -1;
    double dmin = 0.0;
    while (end < 0) {
        if (up == low) {
            // Collect every unscanned column at the new minimum distance into [low, up).
            dmin = d[cols[up++]];
            for (int k = up; k < m; ++k) {
                const int j = cols[k];
                const double h = d[j];
                if (h <= dmin) {
                    if (h < dmin) { up = low; dmin = h; }
                    cols[k] = cols[up];
                    cols[up++] = j;
                }
            }
            if (dmin == kInf) return LapStatus::infeasible;  // only forbidden edges remain
            for (int k = low; k < up; ++k)
                if (y[cols[k]] < 0) { end = cols[k]; break; }
            if (end >= 0) break;
        }
        const int j1 = cols[low++];
        const int i = y[j1];
        const T* ci = c + (int64_t)i * m;
        const double u1 = (double)ci[j1] - v[j1] - dmin;
        for (int k = up; k < m; ++k) {
            const int j = cols[k];
            const double h = (double)ci[j] - v[j] - u1;
            if (h < d[j]) {
                d[j] = h;
                pred[j] = i;
                if (h == dmin) {
                    if (y[j] < 0) { end = j; break; }
                    cols[k] = cols[up];
                    cols[up++] = j;
                }
            }
        }
    }
    // Scanned columns have d <= dmin; lowering their reduced costs by dmin - d keeps every
    // assigned edge tight and every reduced cost non-negative.
    for (int k = 0; k < low; ++k) {
        const int j = cols[k];
        v[j] += d[j] - dmin;
    }
    int i;
    do {
        i = pred[end];
        y[end] = i;
        const int next = x[i];
        x[i] = end;
        end = next;
    } while (i != f);
    return LapStatus::ok;
}

// Augments every row in rows[0..count) in turn; polls `cancel` between rows.
template <class T>
LapStatus augment_rows(const T* c, int m, const int32_t* rows, int count, int32_t* x, int32_t* y,
                       double* v, LapWorkspace& ws, const std::atomic<bool>* cancel) {
    for (int k = 0; k < count; ++k) {
        if (cancel && cancel->load(std::memory_order_relaxed)) return LapStatus::cancelled;
        const LapStatus status = augment_from_row(c, m, rows[k], x, y, v, ws);
        if (status != LapStatus::ok) return status;
    }
    return LapStatus::ok;
}

}  // namespace semrsm
