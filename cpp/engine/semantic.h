// The semantic RSM engine: for a list of pairs (i, j) of samples, the maximum over permutations P of
// sum_s <x_i[s], y_j[P(s)]>, the permutation, and an upper bound on that maximum. Kernels follow
// from these numbers and the norms in Python (DESIGN.md, "One number per pair").
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace semrsm {

enum class Matcher { exact, near_exact, auction, greedy, topk_greedy, batch_optimal };

// near_exact: the auction stopped once its dual bound certifies the assignment within this fraction
// of its objective of the optimum, so that every pair's objective is at least (1 - gap) of the
// optimum of its block. 1e-3 is the quality researchers asked of a matcher they need not second-
// guess; on semantic costs the auction gets there several phases before exactness.
constexpr double kNearExactGap = 1e-3;

struct MatcherName {
    const char* name;
    Matcher matcher;
};

// The names Python passes (exported as semrsm.semantic.MATCHERS, in this order), and the aliases
// it also accepts: "jv" is the exact matcher's name from before it was solved by the hybrid.
inline constexpr MatcherName kMatcherNames[] = {
    {"exact", Matcher::exact}, {"near_exact", Matcher::near_exact}, {"auction", Matcher::auction},
    {"greedy", Matcher::greedy},
    {"topk_greedy", Matcher::topk_greedy}, {"batch_optimal", Matcher::batch_optimal},
};
inline constexpr MatcherName kMatcherAliases[] = {{"jv", Matcher::exact}};

Matcher parse_matcher(const std::string& name);  // throws std::invalid_argument

struct PairOptions {
    Matcher matcher = Matcher::exact;
    int window = 128;  // batch_optimal: window of ranks solved exactly
    bool partial_largest = true;   // batch_optimal: the short window holds the largest norms
    int topk = 0;      // topk_greedy: positions of largest norm matched exactly
    int threads = 1;
};

// Samples are S x C row-major blocks: x holds those indexed by pair_i, y those indexed by pair_j.
// order_* (S per sample) rank positions by decreasing norm and sorted_norms_* hold those norms in
// that order (float64); both are read by every matcher (the bound) and by the approximate ones.
template <class T>
struct PairData {
    const T* x;
    const T* y;
    int S, C;
    const int32_t* order_x;
    const int32_t* order_y;
    const double* sorted_norms_x;
    const double* sorted_norms_y;
};

// Per pair k: objective[k] (float64, recomputed from the vectors), bound[k] >= the optimum (exact
// matchers: their dual bound; heuristics: the tighter of the row/column maxima of the block and the
// norm bound, or the norm bound alone where the full block is never built; may be null: not
// computed), perm (k * S .., may be null) and status[k] (LapStatus). Pairs run in parallel on
// options.threads threads; each pair's result does not depend on the thread count.
template <class T>
void semantic_pairs(const PairData<T>& data, const int64_t* pair_i, const int64_t* pair_j, int64_t count,
                    const PairOptions& options, double* objective, double* bound, int32_t* perm,
                    int8_t* status, const std::atomic<bool>& cancel);

// out[b] = -a[b] y[b]^T for a batch of blocks a (B x n x K) and y (B x m x K): the GEMM of the
// engine on its own, to test it and to time it against numpy.matmul.
// isa: 0 = the fastest kernel this CPU runs, 1 = portable, 2 = AVX2, 3 = AVX-512 (throws
// std::invalid_argument where the CPU lacks it).
template <class T>
void negated_cost_blocks(const T* a, const T* b, int64_t batch, int n, int m, int K, T* out, int threads,
                         int isa, const std::atomic<bool>& cancel);

}  // namespace semrsm
