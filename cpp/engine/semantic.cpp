#include "engine/semantic.h"

#include <omp.h>

#include <limits>
#include <stdexcept>
#include <vector>

#include "approx/batch_optimal.h"
#include "approx/topk_greedy.h"
#include "cost/norms.h"
#include "cost/pair_block.h"
#include "engine/batch.h"
#include "lap/auction.h"
#include "lap/greedy.h"

namespace semrsm {

Matcher parse_matcher(const std::string& name) {
    for (const MatcherName& entry : kMatcherAliases)
        if (name == entry.name) return entry.matcher;
    std::string known;
    for (const MatcherName& entry : kMatcherNames) {
        if (name == entry.name) return entry.matcher;
        known += std::string(known.empty() ? "'" : ", '") + entry.name + "'";
    }
    throw std::invalid_argument("unknown matcher '" + name + "'; expected one of " + known);
}

namespace {

// Solves the full S x S block of a pair with a matcher that needs all of it. Returns the status and
// writes an upper bound on the maximum to *upper.
template <class T>
LapStatus solve_full_block(const T* a, const T* b, int S, int C, Matcher matcher, int32_t* perm,
                           double* upper, PairScratch<T>& s, const std::atomic<bool>* cancel) {
    // upper == nullptr: no bound wanted, which saves a pass over the block.
    s.reserve((int64_t)S * S, S);
    T* c = s.cost.data();
    cost_block(a, S, b, S, C, c, S, s.gemm);
    LapStatus status = LapStatus::ok;
    switch (matcher) {
        case Matcher::exact:
            status = solve_exact_block(c, S, s, cancel);
            if (status == LapStatus::ok && upper) *upper = -dual_lower_bound(c, S, S, s.v.data());
            break;
        case Matcher::near_exact:
        case Matcher::auction: {
            AuctionSchedule schedule = default_auction_schedule(c, S, S, 0.0);
            if (matcher == Matcher::near_exact) schedule.relative_gap = kNearExactGap;
            status = solve_auction(c, S, S, schedule, s.x.data(), s.v.data(), s.lap, cancel);
            if (status == LapStatus::ok && upper) *upper = -dual_lower_bound(c, S, S, s.v.data());
            break;
        }
        case Matcher::greedy:
            solve_greedy(c, S, S, s.x.data(), s.lap);
            if (upper) *upper = -row_column_lower_bound(c, S, S);
            break;
        default:
            throw std::logic_error("solve_full_block: matcher works on windows");
    }
    for (int r = 0; r < S; ++r) perm[r] = s.x[r];
    return status;
}

}  // namespace

template <class T>
void semantic_pairs(const PairData<T>& data, const int64_t* pair_i, const int64_t* pair_j, int64_t count,
                    const PairOptions& options, double* objective, double* bound, int32_t* perm,
                    int8_t* status, const std::atomic<bool>& cancel) {
    const int S = data.S, C = data.C;
    const int64_t sample = (int64_t)S * C;
    const int threads = std::max(1, options.threads);
    std::vector<PairScratch<T>> scratch(threads);
    std::vector<std::vector<int32_t>> own_perm(threads, std::vector<int32_t>(perm ? 0 : S));
    for (int64_t k = 0; k < count; ++k) status[k] = (int8_t)LapStatus::cancelled;
    parallel_for(count, threads, cancel, [&](int64_t k) {
        const int t = omp_get_thread_num();
        PairScratch<T>& s = scratch[t];
        const int64_t i = pair_i[k], j = pair_j[k];
        const T* a = data.x + i * sample;
        const T* b = data.y + j * sample;
        const int32_t* order_a = data.order_x + i * S;
        const int32_t* order_b = data.order_y + j * S;
        int32_t* p = perm ? perm + k * S : own_perm[t].data();
        double upper = std::numeric_limits<double>::infinity();
        LapStatus result;
        switch (options.matcher) {
            case Matcher::batch_optimal:
                result = batch_optimal_pair(a, b, S, C, order_a, order_b, options.window,
                                            options.partial_largest, p, s, &cancel);
                break;
            case Matcher::topk_greedy:
                result = topk_greedy_pair(a, b, S, C, order_a, order_b, options.topk, p, s, &cancel);
                break;
            default:
                result = solve_full_block(a, b, S, C, options.matcher, p, bound ? &upper : nullptr, s,
                                          &cancel);
        }
        if (result != LapStatus::ok) { status[k] = (int8_t)result; return; }
        objective[k] = permuted_inner(a, b, S, C, p);
        if (bound) {
            upper = std::min(upper, norm_rearrangement_bound(data.sorted_norms_x + i * S,
                                                             data.sorted_norms_y + j * S, S));
            // The objective is attained, so the optimum is at least that: a bound below it can only
            // come from rounding the block to float32, and is lifted to it.
            bound[k] = std::max(upper, objective[k]);
        }
        status[k] = (int8_t)LapStatus::ok;
    });
}

template <class T>
void negated_cost_blocks(const T* a, const T* b, int64_t batch, int n, int m, int K, T* out, int threads,
                         int isa, const std::atomic<bool>& cancel) {
    const GemmIsa kernel = static_cast<GemmIsa>(isa);
    if (isa < 0 || isa > 3 || !gemm_isa_available(kernel))
        throw std::invalid_argument("this CPU does not run the requested GEMM kernel");
    std::vector<GemmScratch<T>> scratch(std::max(1, threads));
    parallel_for(batch, threads, cancel, [&](int64_t k) {
        cost_block(a + k * n * (int64_t)K, n, b + k * m * (int64_t)K, m, K, out + k * n * (int64_t)m, m,
                   scratch[omp_get_thread_num()], kernel);
    });
}

#define SEMRSM_INSTANTIATE(T)                                                                          \
    template void semantic_pairs<T>(const PairData<T>&, const int64_t*, const int64_t*, int64_t,       \
                                    const PairOptions&, double*, double*, int32_t*, int8_t*,           \
                                    const std::atomic<bool>&);                                         \
    template void negated_cost_blocks<T>(const T*, const T*, int64_t, int, int, int, T*, int, int,     \
                                         const std::atomic<bool>&);
SEMRSM_INSTANTIATE(float)
SEMRSM_INSTANTIATE(double)
#undef SEMRSM_INSTANTIATE

}  // namespace semrsm
