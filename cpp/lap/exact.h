// The default exact solver: Jonker-Volgenant (jv.h) or the auction/shortest-path hybrid (hybrid.h),
// chosen per problem by what JV's column reduction achieves (the rule and its measurements:
// lap/rules.h, shared with the GPU's cuda/lap/exact.cuh).
#pragma once

#include "lap/hybrid.h"
#include "lap/jv.h"
#include "lap/rules.h"

namespace semrsm {

template <class T>
LapStatus solve_exact(const T* c, int n, int m, bool forbidden, int32_t* x, double* u, double* v,
                      LapWorkspace& ws, const std::atomic<bool>* cancel) {
    const int nfree = jv_start(c, n, m, forbidden, x, v, ws);
    if (n == m && !forbidden && prefer_hybrid(n, nfree, kHybridMinRows))
        return solve_hybrid(c, n, m, forbidden, 0.0, x, u, v, ws, cancel);
    return jv_finish(c, n, m, nfree, x, u, v, ws, cancel);
}

}  // namespace semrsm
