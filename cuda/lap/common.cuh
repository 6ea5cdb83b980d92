// What every part of the GPU's LAP solver shares (the GPU twin of cpp/lap/common.h): one group of G
// threads per problem, its shared memory, the group-wide reductions, and the problem's state.
//
// One group of G threads solves one problem (a warp, G = 32, four problems to a block; or a block of
// G = 64..1024 threads). Column j belongs to thread j % G, which keeps its potential v_j and its path
// length d_j in registers (CPL columns per thread). Only O(n + m) shared memory per problem: the
// assignment (x, y), the path tree (pred) and a queue of free rows; no B x n x m scratch beyond the
// costs, offsets in 64 bits. Potentials, path lengths, objective and bound accumulate in double.
// Every function here is inlined into the one kernel (cuda/engine/batch.cu), which keeps the register
// arrays in registers.
#pragma once

#include <math_constants.h>

#include <climits>
#include <cstdint>

namespace semrsm::cuda {

constexpr unsigned kFull = 0xffffffffu;

template <int G>
__device__ __forceinline__ void group_sync() {
    if constexpr (G == 32) __syncwarp(); else __syncthreads();
}

// Shared memory of one problem: reduction slots (two generations, so one barrier per reduction
// suffices), then y (row of each column), pred (row before each column on the path tree), x.
template <int G>
struct Shared {
    static constexpr int W = G / 32;
    double* slot_d;    // 2 * W
    double* slot_v;    // 2 * W (also the second minimum of a top-2 reduction)
    unsigned* slot_k;  // 2 * W
    unsigned* slot_k2; // 2 * W
    int* y;            // m
    int* pred;         // m
    int* x;            // n
    int* queue;        // n: free rows of the augmenting row reduction, a ring
    int* count;        // 1
    int parity = 0;

    __host__ __device__ static size_t bytes(int n, int m) {
        const size_t b = sizeof(double) * 4 * W + sizeof(unsigned) * 4 * W +
                         sizeof(int) * (2 * (size_t)m + 2 * (size_t)n + 1);
        return (b + 15) / 16 * 16;
    }
    __device__ Shared(unsigned char* base, int n, int m) {
        slot_d = reinterpret_cast<double*>(base);
        slot_v = slot_d + 2 * W;
        slot_k = reinterpret_cast<unsigned*>(slot_v + 2 * W);
        slot_k2 = slot_k + 2 * W;
        y = reinterpret_cast<int*>(slot_k2 + 2 * W);
        pred = y + m;
        x = pred + m;
        queue = x + n;
        count = queue + n;
    }
};

struct Argmin {
    double d;      // the minimum
    unsigned key;  // (busy bit | column) of the column attaining it, free columns and low indices first
    double v;      // that column's potential
};

// Lexicographic minimum of (d, key) over the group, carrying v along. Keys are distinct, except
// UINT_MAX for threads with no candidate.
template <int G>
__device__ __forceinline__ Argmin group_argmin(double d, unsigned key, double v, Shared<G>& sh) {
    double dmin = d;
#pragma unroll
    for (int off = 16; off; off >>= 1) dmin = fmin(dmin, __shfl_xor_sync(kFull, dmin, off));
    unsigned kmin = __reduce_min_sync(kFull, d == dmin ? key : UINT_MAX);
    int src = __ffs(__ballot_sync(kFull, d == dmin && key == kmin)) - 1;
    double vmin = __shfl_sync(kFull, v, src);
    if constexpr (G == 32) {
        return {dmin, kmin, vmin};
    } else {
        constexpr int W = G / 32;
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        const int base = sh.parity * W;
        sh.parity ^= 1;
        if (lane == 0) {
            sh.slot_d[base + warp] = dmin;
            sh.slot_k[base + warp] = kmin;
            sh.slot_v[base + warp] = vmin;
        }
        __syncthreads();
        const double bd = lane < W ? sh.slot_d[base + lane] : CUDART_INF;
        const unsigned bk = lane < W ? sh.slot_k[base + lane] : UINT_MAX;
        const double bv = lane < W ? sh.slot_v[base + lane] : 0.0;
        dmin = bd;
#pragma unroll
        for (int off = 16; off; off >>= 1) dmin = fmin(dmin, __shfl_xor_sync(kFull, dmin, off));
        kmin = __reduce_min_sync(kFull, bd == dmin ? bk : UINT_MAX);
        src = __ffs(__ballot_sync(kFull, bd == dmin && bk == kmin)) - 1;
        vmin = __shfl_sync(kFull, bv, src);
        return {dmin, kmin, vmin};
    }
}

enum class Op { sum, max, min };

__device__ __forceinline__ double combine(Op op, double a, double b) {
    return op == Op::sum ? a + b : op == Op::max ? fmax(a, b) : fmin(a, b);
}

// Sum, max or min of one value per thread over the group, returned to every thread.
template <int G>
__device__ __forceinline__ double group_reduce(double value, Op op, Shared<G>& sh) {
#pragma unroll
    for (int off = 16; off; off >>= 1) value = combine(op, value, __shfl_xor_sync(kFull, value, off));
    if constexpr (G == 32) {
        return value;
    } else {
        constexpr int W = G / 32;
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        const int base = sh.parity * W;
        sh.parity ^= 1;
        if (lane == 0) sh.slot_d[base + warp] = value;
        __syncthreads();
        // Every warp adds the W partials in the same order, so every thread gets the same bits.
        double total = sh.slot_d[base];
        for (int w = 1; w < W; ++w) total = combine(op, total, sh.slot_d[base + w]);
        return total;
    }
}

// The two smallest (value, key) pairs over the group: the best and second best column of a row.
struct Top2 {
    double m1;
    unsigned k1;
    double m2;
    unsigned k2;
};

__device__ __forceinline__ bool before(double a, unsigned ka, double b, unsigned kb) {
    return a < b || (a == b && ka < kb);
}

__device__ __forceinline__ Top2 merge(const Top2& a, const Top2& b) {
    Top2 w = before(a.m1, a.k1, b.m1, b.k1) ? a : b;
    const Top2& l = before(a.m1, a.k1, b.m1, b.k1) ? b : a;
    if (before(l.m1, l.k1, w.m2, w.k2)) { w.m2 = l.m1; w.k2 = l.k1; }
    return w;
}

__device__ __forceinline__ Top2 warp_top2(Top2 t) {
#pragma unroll
    for (int off = 16; off; off >>= 1) {
        Top2 o;
        o.m1 = __shfl_xor_sync(kFull, t.m1, off);
        o.k1 = __shfl_xor_sync(kFull, t.k1, off);
        o.m2 = __shfl_xor_sync(kFull, t.m2, off);
        o.k2 = __shfl_xor_sync(kFull, t.k2, off);
        t = merge(t, o);
    }
    return t;
}

template <int G>
__device__ __forceinline__ Top2 group_top2(Top2 t, Shared<G>& sh) {
    t = warp_top2(t);
    if constexpr (G == 32) {
        return t;
    } else {
        constexpr int W = G / 32;
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        const int base = sh.parity * W;
        sh.parity ^= 1;
        if (lane == 0) {
            sh.slot_d[base + warp] = t.m1;
            sh.slot_k[base + warp] = t.k1;
            sh.slot_v[base + warp] = t.m2;
            sh.slot_k2[base + warp] = t.k2;
        }
        __syncthreads();
        Top2 p{CUDART_INF, UINT_MAX, CUDART_INF, UINT_MAX};
        if (lane < W) p = {sh.slot_d[base + lane], sh.slot_k[base + lane], sh.slot_v[base + lane], sh.slot_k2[base + lane]};
        return warp_top2(p);
    }
}

// One problem as one group sees it: its costs, this thread's columns and their potentials (v) and path
// lengths (d), and the group's shared memory. The state the solver's steps pass to each other.
template <class T, int G, int CPL>
struct GroupProblem {
    const T* c;      // n x m costs, row-major; minimised as sign * c
    int n, m;
    double sign;     // -1 maximises
    int tid;         // this thread's rank in the group
    unsigned valid;  // bit k: column k * G + tid exists
    double v[CPL];   // potentials of this thread's columns
    double d[CPL];   // their path lengths (Dijkstra)
    Shared<G> sh;

    // Every column free and at potential 0, every row unassigned.
    __device__ GroupProblem(const T* costs, int rows, int cols, double sign_, int rank, unsigned char* smem)
        : c(costs), n(rows), m(cols), sign(sign_), tid(rank), valid(0), sh(smem, rows, cols) {
#pragma unroll
        for (int k = 0; k < CPL; ++k) {
            v[k] = 0.0;
            d[k] = CUDART_INF;
            const int j = k * G + tid;
            if (j < m) { valid |= 1u << k; sh.y[j] = -1; }
        }
        for (int i = tid; i < n; i += G) sh.x[i] = -1;
        group_sync<G>();
    }

    __device__ __forceinline__ bool has(int k) const { return valid >> k & 1; }
    __device__ __forceinline__ int column(int k) const { return k * G + tid; }
    // sign * c_ij, the cost as the solver minimises it
    __device__ __forceinline__ double cost(const T* ci, int j) const { return sign * (double)ci[j]; }
    __device__ __forceinline__ const T* row(int i) const { return c + (long long)i * m; }
};

}  // namespace semrsm::cuda
