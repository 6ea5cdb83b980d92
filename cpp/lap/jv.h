// Jonker & Volgenant, "A shortest augmenting path algorithm for dense and sparse linear assignment
// problems", Computing 38 (1987) 325-340: column reduction, reduction transfer and two passes of
// augmenting row reduction (section 4) give a cheap partial assignment with feasible potentials;
// shortest augmenting paths (sap.h) finish it exactly.
//
// The initialisation needs a square problem with finite costs. Rectangular problems, and those the
// caller marks `plain_start` (+inf (forbidden) entries, or costs spanning more than 2^40, whose small
// entries potentials at the scale of the column minima would hide: cpp/engine/batch.cpp), skip it
// and run shortest augmenting paths from v = 0, as scipy does.
#pragma once

#include "lap/common.h"
#include "lap/row_minima.h"
#include "lap/rules.h"
#include "lap/sap.h"

namespace semrsm {

// Column reduction and reduction transfer. Returns the number of free rows written to free_rows.
template <class T>
int jv_column_reduction(const T* c, int n, int32_t* x, int32_t* y, double* v, LapWorkspace& ws) {
    double* row_of_min = ws.d.data();
    int32_t* matches = ws.cols.data();
    for (int j = 0; j < n; ++j) { v[j] = kInf; row_of_min[j] = 0.0; }
    // Row-major sweep instead of the paper's column loop: same minima, contiguous reads. Ties keep
    // the lowest row, so a constant matrix yields the identity.
    for (int i = 0; i < n; ++i) column_minima_step(c + (int64_t)i * n, n, i, v, row_of_min);
    for (int i = 0; i < n; ++i) matches[i] = 0;
    for (int j = 0; j < n; ++j) {
        const int i = (int)row_of_min[j];
        if (++matches[i] == 1) {
            x[i] = j; y[j] = i;
        } else if (v[j] < v[x[i]]) {
            y[x[i]] = -1; x[i] = j; y[j] = i;
        } else {
            y[j] = -1;
        }
    }
    int nfree = 0;
    for (int i = 0; i < n; ++i) {
        if (matches[i] == 0) {
            ws.free_rows[nfree++] = i;
        } else if (matches[i] == 1) {
            // Reduction transfer: lower v of the assigned column by the row's second-best reduced
            // cost, so that the column stays the row's minimum and other rows see it dearer.
            // Column x[i] sits at the row's minimum (0): the best of the others is the second
            // smallest, or another 0.
            const int j1 = x[i];
            const RowMinima r = row_minima(c + (int64_t)i * n, v, n);
            const double second = r.jbest == j1 ? r.second : r.best;
            v[j1] -= second;
        }
    }
    return nfree;
}

// One pass of augmenting row reduction over free_rows[0..nfree); returns the rows still free. The
// pass is capped (arr_step_budget, lap/rules.h: rounding could make it run forever), and leftover rows
// go to the exact augmentation.
template <class T>
int jv_augmenting_row_reduction(const T* c, int n, int nfree, int32_t* x, int32_t* y, double* v,
                                LapWorkspace& ws) {
    int32_t* free_rows = ws.free_rows.data();
    const int64_t max_steps = arr_step_budget(nfree);
    int64_t steps = 0;
    int k = 0, still_free = 0;
    while (k < nfree) {
        const int i = free_rows[k++];
        if (++steps > max_steps) { free_rows[still_free++] = i; continue; }
        const T* ci = c + (int64_t)i * n;
        const RowMinima r = row_minima(ci, v, n);
        const double umin = r.best, usubmin = r.second;
        int j1 = r.jbest;
        int i0 = y[j1];
        if (umin < usubmin) {
            v[j1] -= usubmin - umin;
        } else {
            // Tie: a free column among the minima ends the chain at once (and keeps constant or
            // tie-heavy matrices from bouncing rows between equal columns); else the next minimum.
            int free_col = -1, j2 = -1;
            for (int j = 0; j < n && free_col < 0; ++j) {
                if ((double)ci[j] - v[j] != umin) continue;
                if (y[j] < 0) free_col = j;
                else if (j != j1 && j2 < 0) j2 = j;
            }
            // No second column at umin (j2 < 0) happens only when umin is not a number the row's
            // entries reproduce (an overflowed difference): j1 is kept rather than written as -1.
            if (free_col >= 0) { j1 = free_col; i0 = -1; }
            else if (i0 >= 0 && j2 >= 0) { j1 = j2; i0 = y[j2]; }
        }
        if (i0 >= 0) x[i0] = -1;
        x[i] = j1;
        y[j1] = i;
        if (i0 >= 0) {
            if (umin < usubmin) free_rows[--k] = i0;  // the displaced row tries again at once
            else free_rows[still_free++] = i0;
        }
    }
    return still_free;
}

// Resets the assignment; for a square finite problem runs column reduction and returns the number
// of rows it left free (listed in ws.free_rows), otherwise frees every row with v = 0.
template <class T>
int jv_start(const T* c, int n, int m, bool plain_start, int32_t* x, double* v, LapWorkspace& ws) {
    ws.reserve(n, m);
    int32_t* y = ws.row4col.data();
    for (int i = 0; i < n; ++i) x[i] = -1;
    for (int j = 0; j < m; ++j) y[j] = -1;
    if (n == m && n >= 2 && !plain_start) return jv_column_reduction(c, n, x, y, v, ws);
    for (int j = 0; j < m; ++j) v[j] = 0.0;
    for (int i = 0; i < n; ++i) ws.free_rows[i] = i;
    return n;
}

// Finishes what jv_start began: augmenting row reduction (square problems), then shortest
// augmenting paths for the rows still free; writes u from the final v.
template <class T>
LapStatus jv_finish(const T* c, int n, int m, int nfree, int32_t* x, double* u, double* v,
                    LapWorkspace& ws, const std::atomic<bool>* cancel) {
    int32_t* y = ws.row4col.data();
    if (n == m && nfree < n)
        for (int pass = 0; pass < 2 && nfree > 0; ++pass)
            nfree = jv_augmenting_row_reduction(c, n, nfree, x, y, v, ws);
    const LapStatus status = augment_rows(c, m, ws.free_rows.data(), nfree, x, y, v, ws, cancel);
    if (status != LapStatus::ok) return status;
    for (int i = 0; i < n; ++i) u[i] = (double)c[(int64_t)i * m + x[i]] - v[x[i]];
    return LapStatus::ok;
}

// Solves the n x m (n <= m) minimisation problem c. Writes the column of each row to x, and
// potentials u (n) and v (m) with u_i + v_j <= c_ij, equality on assigned pairs. `plain_start`: no
// initialisation (jv_start); it must be set where c has +inf entries.
template <class T>
LapStatus solve_jv(const T* c, int n, int m, bool plain_start, int32_t* x, double* u, double* v,
                   LapWorkspace& ws, const std::atomic<bool>* cancel) {
    const int nfree = jv_start(c, n, m, plain_start, x, v, ws);
    return jv_finish(c, n, m, nfree, x, u, v, ws, cancel);
}

}  // namespace semrsm
