// The default exact solver: Jonker-Volgenant (jv.h) or the auction/shortest-path hybrid (hybrid.h),
// chosen per problem by what JV's column reduction achieves.
//
// On costs with independent entries column reduction leaves about n/e rows free (each column's
// minimum falls on a random row), and JV's cheap initialisation then does most of the work. On
// inner-product costs of ReLU features one large-norm position is the best match of nearly every
// column: column reduction frees almost every row, JV degenerates to n shortest path searches, and
// the hybrid is 5x (n = 196) to 25x (n = 3136) faster (bench/RESULTS.md). Half the rows is the
// threshold between the two.
#pragma once

#include "lap/hybrid.h"
#include "lap/jv.h"

namespace semrsm {

template <class T>
LapStatus solve_exact(const T* c, int n, int m, bool forbidden, int32_t* x, double* u, double* v,
                      LapWorkspace& ws, const std::atomic<bool>* cancel) {
    const int nfree = jv_start(c, n, m, forbidden, x, v, ws);
    if (n == m && n >= 2 && !forbidden && 2 * nfree > n)
        return solve_hybrid(c, n, m, forbidden, 0.0, x, u, v, ws, cancel);
    return jv_finish(c, n, m, nfree, x, u, v, ws, cancel);
}

}  // namespace semrsm
