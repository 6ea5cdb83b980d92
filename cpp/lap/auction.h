// Forward auction with epsilon-scaling: Bertsekas, "The auction algorithm: a distributed relaxation
// method for the assignment problem", Annals of Operations Research 14 (1988) 105-123, and
// Bertsekas & Castanon, "The auction algorithm for the transportation problem" (1989) for scaling.
// Gauss-Seidel bidding: one free row bids at a time and sees the prices raised before it.
//
// Run on the minimisation problem c as a maximisation of benefit -c. Each phase starts with every
// row free and keeps the prices of the last; a phase ends only when every row is assigned, so tie-
// heavy matrices cannot end a phase early. At the end the assignment is within n * eps_final of
// the optimum (epsilon complementary slackness). A rectangular problem (n < m) gets m - n virtual
// rows of zero cost, which leaves the optimum of the real rows unchanged.
#pragma once

#include "lap/auction_schedule.h"
#include "lap/common.h"
#include "lap/row_minima.h"

namespace semrsm {

struct AuctionSchedule {
    EpsRange eps;   // first and last eps; eps is divided by kAuctionFactor between phases
    bool constant;  // every cost is the same: any assignment is optimal, the identity is returned
    bool resolves;  // auction_resolves: the prices see every cost (else the hybrid runs JV alone)
    // > 0: stop after the first phase whose assignment its dual bound certifies within this fraction
    // of the assignment's own cost of the optimum (square problems; near-exact matching), even
    // before eps.final.
    double relative_gap = 0.0;
};

// Every phase ends with an assignment within m * eps of its dual bound (epsilon complementary
// slackness), and usually much closer: on semantic costs the bound is 10-30x tighter. Reading the
// bound is one pass over the costs, a phase's least work, so it is read only once m * eps is within
// this factor of the gap sought.
constexpr double kGapCheckSlack = 32.0;

// Whether `assigned` (all rows of a square problem) is within gap * |its cost| of the optimum,
// certified by the dual bound of the column potentials v.
template <class T>
bool certified_within_gap(const T* c, int n, const int32_t* assigned, const double* v, double eps, double gap) {
    double total = 0.0;
    for (int i = 0; i < n; ++i) total += (double)c[(int64_t)i * n + assigned[i]];
    const double allowed = gap * std::fabs(total);
    if (n * eps <= allowed) return true;
    if (n * eps > kGapCheckSlack * allowed) return false;
    return total - dual_lower_bound(c, n, n, v) <= allowed;
}

// The schedule of auction_schedule.h for these costs: start at range / 64; end where the n * eps bound
// certifies integers exactly (below 1/n) or, for other costs, at 1e-9 of the range per row, or at
// eps_final when the caller gives one (with `hand_over`: where the hybrid hands over); never below
// the resolution of the prices. Every eps derives from the costs' own range and magnitude, so the
// number of phases is bounded (at most log_6 of 2^40 * 64 beyond the first) whatever their scale.
template <class T>
AuctionSchedule default_auction_schedule(const T* c, int n, int m, double eps_final, bool hand_over = false) {
    double lo = kInf, hi = -kInf, smallest = kInf;
    const int64_t count = (int64_t)n * m;
#pragma omp simd reduction(min : lo, smallest) reduction(max : hi)
    for (int64_t k = 0; k < count; ++k) {
        const double a = c[k];
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
        const double magnitude = a != 0.0 ? std::fabs(a) : kInf;
        smallest = magnitude < smallest ? magnitude : smallest;
    }
    bool integral = true;  // a separate loop: it stops at the first fraction, usually the first entry
    for (int64_t k = 0; k < count && integral; ++k) integral = (double)c[k] == std::floor((double)c[k]);
    return {auction_eps_range(lo, hi, integral, m, eps_final, hand_over), !(hi > lo),
            auction_resolves(lo, hi, smallest)};
}

// Runs the auction; writes the assignment to x and the column potentials v (m) of the
// minimisation problem: v = -prices, so that a bid is a row reduction step plus eps. In these terms
// row i bids for the column j1 at its smallest reduced cost c_ij - v_j and lowers v_j1 until the
// column is eps dearer than its second choice.
template <class T>
LapStatus solve_auction(const T* c, int n, int m, const AuctionSchedule& schedule, int32_t* x,
                        double* v, LapWorkspace& ws, const std::atomic<bool>* cancel) {
    ws.reserve(m + 1, m);
    const int capacity = m + 1;  // ring buffer of free rows: at most m are free at once
    int32_t* owner = ws.row4col.data();
    int32_t* queue = ws.free_rows.data();
    std::vector<int32_t> assigned(m);
    const std::vector<T> virtual_row(n < m ? m : 0, T(0));
    // Start from column reduction: every column at its cheapest row's cost, so the first phase
    // begins near its prices instead of bidding them up from zero.
    for (int j = 0; j < m; ++j) v[j] = n < m ? 0.0 : kInf;  // virtual rows cost 0
    for (int i = 0; i < n; ++i) column_minima_step(c + (int64_t)i * m, m, i, v, ws.d.data());
    if (schedule.constant) {
        for (int i = 0; i < n; ++i) x[i] = i;
        return LapStatus::ok;
    }
    double eps = schedule.eps.start;
    while (true) {
        for (int j = 0; j < m; ++j) owner[j] = -1;
        for (int i = 0; i < m; ++i) { queue[i] = i; assigned[i] = -1; }
        int head = 0, tail = m;
        int64_t bids = 0;
        while (head != tail) {
            const int i = queue[head];
            head = head + 1 == capacity ? 0 : head + 1;
            if ((++bids & 1023) == 0 && cancel_requested(cancel))
                return LapStatus::cancelled;
            const T* ci = i < n ? c + (int64_t)i * m : virtual_row.data();
            const RowMinima r = row_minima(ci, v, m);
            // A single column leaves no competitor: any finite step will do.
            v[r.jbest] -= (r.second == kInf ? 0.0 : r.second - r.best) + eps;
            const int previous = owner[r.jbest];
            owner[r.jbest] = i;
            assigned[i] = r.jbest;
            if (previous >= 0) {
                assigned[previous] = -1;
                queue[tail] = previous;
                tail = tail + 1 == capacity ? 0 : tail + 1;
            }
        }
        if (eps <= schedule.eps.final) break;
        if (schedule.relative_gap > 0.0 && n == m &&
            certified_within_gap(c, n, assigned.data(), v, eps, schedule.relative_gap))
            break;
        eps = std::max(eps / kAuctionFactor, schedule.eps.final);
    }
    for (int i = 0; i < n; ++i) x[i] = assigned[i];
    return LapStatus::ok;
}

}  // namespace semrsm
