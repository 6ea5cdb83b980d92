// What every matcher of the semantic engine does with a pair: build a cost block of some of its
// rows, solve it exactly. One PairScratch per thread keeps the blocks allocated across the pairs it
// works on.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "cost/gemm.h"
#include "lap/hybrid.h"

namespace semrsm {

template <class T>
struct PairScratch {
    std::vector<T> cost;         // the (negated) cost block being solved
    std::vector<int32_t> x;      // the assignment of the block being solved
    std::vector<double> u, v;    // its potentials
    GemmScratch<T> gemm;
    LapWorkspace lap;

    void reserve(int64_t block, int rows) {
        if ((int64_t)cost.size() < block) cost.resize(block);
        if ((int)x.size() < rows) { x.resize(rows); u.resize(rows); v.resize(rows); }
    }
};

// Builds the negated cost block between rows rows_a[0..size) of a and rows_b[0..size) of b (both
// samples S x C, row-major) in s.cost, reading the rows in place, and returns it.
template <class T>
T* indexed_block(const T* a, const T* b, int C, const int32_t* rows_a, const int32_t* rows_b,
                 int size, PairScratch<T>& s) {
    cost_block(BlockArgs<T>{a, rows_a, size, b, rows_b, size, C, s.cost.data(), size}, s.gemm);
    return s.cost.data();
}

// The exact matcher of the semantic engine on a finite n x n minimisation block: auction, then
// shortest augmenting paths from its prices (lap/hybrid.h). On inner products of ReLU features it
// is several times faster than Jonker-Volgenant's initialisation (bench/RESULTS.md, section 2).
template <class T>
LapStatus solve_exact_block(const T* c, int n, PairScratch<T>& s, const std::atomic<bool>* cancel) {
    return solve_hybrid(c, n, n, /*plain_start=*/false, 0.0, s.x.data(), s.u.data(), s.v.data(), s.lap, cancel);
}

}  // namespace semrsm
