// The epsilon schedule of the auction (auction.h) and of its hand-over to shortest augmenting paths
// (hybrid.h), shared with the GPU auction (cuda/lap/auction.cuh) so that both engines bid alike. Kept
// free of host-only code so that nvcc compiles it for the device.
//
// Measured on semantic costs (n = 128..784) and on uniform and normal ones: starting from column-
// reduced prices at eps = range / 64 is 5-20% faster than from zero prices at range / 4; the factor
// between phases matters little (4..12); handing over at range / (512 m) is within 5% of the best.
#pragma once

#include <cmath>

#include "hd.h"

namespace semrsm {

constexpr double kAuctionStart = 1.0 / 64;    // first eps = range * kAuctionStart
constexpr double kAuctionFactor = 6.0;        // eps is divided by this between phases
constexpr double kHybridHandover = 1.0 / 512; // the hybrid's last eps = range * kHybridHandover / m

// The smallest eps that still moves a price: prices are about as large as the largest |cost|, and a
// bid below their resolution would change nothing, so that a phase could never end.
SEMRSM_HD inline double auction_eps_floor(double lo, double hi) {
    return fmax(fabs(lo), fabs(hi)) * 0x1p-40;
}

// Whether the auction's prices can see every cost: prices are about as large as the largest |cost|
// and move in steps of at least auction_eps_floor, so a nonzero cost smaller than that floor (costs
// spanning more than 2^40: [[0, 0, 0], [0, 0, 0], [1, 0, 1e20]]) cannot be told from 0, and from
// such prices shortest augmenting paths (hybrid.h) settle on a wrong optimum. Exact solvers then run
// JV alone, whose potentials start at the column minima and resolve the small costs.
SEMRSM_HD inline bool auction_resolves(double lo, double hi, double smallest_nonzero) {
    return !(smallest_nonzero < auction_eps_floor(lo, hi));
}

// The default last eps: below 1/m on integer costs (exact), 1e-9 of the range per row otherwise.
SEMRSM_HD inline double auction_default_eps(double lo, double hi, bool integral, int m) {
    const double range = hi > lo ? hi - lo : 1.0;
    return fmax(integral ? 1.0 / (m + 1) : range * 1e-9 / m, auction_eps_floor(lo, hi));
}

// The eps of the first and of the last phase, from the costs' range [lo, hi] and whether they are all
// integers: for the auction alone (to `eps_final`, or to the default when it is 0) or, with
// `hand_over`, for the hybrid, which hands over to shortest augmenting paths once n * eps is a small
// fraction of the range: the auction's last phases are cheap, while every row it leaves off its
// minimum costs a search.
struct EpsRange {
    double start;
    double final;
};

SEMRSM_HD inline EpsRange auction_eps_range(double lo, double hi, bool integral, int m, double eps_final,
                                            bool hand_over) {
    const double range = hi > lo ? hi - lo : 1.0;
    const double lowest = auction_eps_floor(lo, hi);
    if (hand_over) {
        const double start = fmax(range * kAuctionStart, auction_default_eps(lo, hi, integral, m));
        const double handover = eps_final > 0.0 ? eps_final : range * kHybridHandover / m;
        return {start, fmin(fmax(handover, lowest), start)};
    }
    const double last = eps_final > 0.0 ? fmax(eps_final, lowest) : auction_default_eps(lo, hi, integral, m);
    return {fmax(range * kAuctionStart, last), last};
}

}  // namespace semrsm
