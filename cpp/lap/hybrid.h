// Exact solver in two stages, after Guthe & Thuerck, "Algorithm 1015: A fast scalable solver for
// the dense linear (sum) assignment problem", ACM TOMS 47(2) 2021: epsilon-scaling auction (auction.h)
// stops at a coarse epsilon with near-optimal prices, which become the column potentials of
// shortest augmenting paths (sap.h), which repair the rows whose column is not exactly a row minimum.
// On costs whose optimum is hard to reach by row reductions (inner products of feature maps) the
// auction does most of the work cheaply and the exact stage visits few columns per row.
#pragma once

#include "lap/auction.h"
#include "lap/jv.h"
#include "lap/sap.h"

namespace semrsm {

template <class T>
LapStatus solve_hybrid(const T* c, int n, int m, bool plain_start, double eps_final, int32_t* x,
                       double* u, double* v, LapWorkspace& ws, const std::atomic<bool>* cancel) {
    // The auction needs finite costs; rectangular problems would need its prices shifted to meet
    // the rectangular optimality conditions, which costs more than it saves.
    if (n != m || n < 2 || plain_start) return solve_jv(c, n, m, plain_start, x, u, v, ws, cancel);
    const AuctionSchedule schedule = default_auction_schedule(c, n, m, eps_final, /*hand_over=*/true);
    // Costs the auction's prices cannot resolve (auction_resolves): shortest augmenting paths alone.
    if (!schedule.resolves) return solve_jv(c, n, m, /*plain_start=*/true, x, u, v, ws, cancel);
    LapStatus status = solve_auction(c, n, m, schedule, x, v, ws, cancel);
    if (status != LapStatus::ok) return status;
    int32_t* y = ws.row4col.data();
    for (int j = 0; j < m; ++j) y[j] = -1;
    int nfree = 0;
    for (int i = 0; i < n; ++i) {
        const T* ci = c + (int64_t)i * m;
        if ((double)ci[x[i]] - v[x[i]] == row_minima(ci, v, m).best) {
            y[x[i]] = i;
        } else {
            x[i] = -1;
            ws.free_rows[nfree++] = i;
        }
    }
    status = augment_rows(c, m, ws.free_rows.data(), nfree, x, y, v, ws, cancel);
    if (status != LapStatus::ok) return status;
    for (int i = 0; i < n; ++i) u[i] = (double)c[(int64_t)i * m + x[i]] - v[x[i]];
    return LapStatus::ok;
}

}  // namespace semrsm
