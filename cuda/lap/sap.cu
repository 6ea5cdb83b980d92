// Batched exact LAPs on the GPU by shortest augmenting paths: the GPU twin of cpp/lap/sap.h.
//
// Jonker & Volgenant, "A shortest augmenting path algorithm for dense and sparse linear assignment
// problems", Computing 38 (1987) 325-340, sec. 3 (column reduction, procedure AUGMENT), in the
// rectangular form of Crouse, IEEE TAES 52(4) 2016; the parallel layout follows the block-per-
// problem shortest-path solvers (HyLAC's Block-LAP, Kawtikwar & Nagi 2024) with a warp per problem
// for m <= 256.
//
// One group of G threads solves one problem (a warp, G = 32, four problems to a block; or a block of
// G = 64..1024 threads). Column j belongs to thread j % G, which keeps its potential v_j and its
// path length d_j in registers (CPL columns per thread). A Dijkstra step is one group-wide argmin of
// d over the unscanned columns (warp shuffles, then one barrier between warps) and one coalesced
// pass over the cost row of the column's row. Only O(n + m) shared memory per problem: the
// assignment (x, y) and the path tree (pred); no B x n x m scratch beyond the costs, offsets in
// 64 bits. An infeasible problem (only forbidden +inf edges left) is reported in `status`, never
// asserted. Potentials, path lengths, objective and bound accumulate in double.
//
// The epsilon-scaling auction that hands over to the paths on hard costs (cpp/lap/hybrid.h) also
// runs alone, as the method "auction" (`auction_only`): to its final eps, with the dual bound.
#include <math_constants.h>

#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "check.h"
#include "cuda_engine.h"
#include "lap/auction_schedule.h"
#include "lap/status.h"

namespace semrsm::cuda {
namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr unsigned kBusyBit = 1u << 30;  // in an argmin key: the column is assigned

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

// Best and second best column of row ci over the reduced costs sign * c - v (a bid, or an ARR step).
template <class T, int G, int CPL>
__device__ __forceinline__ Top2 row_top2(const T* ci, const double (&v)[CPL], unsigned valid, double sign,
                                         Shared<G>& sh) {
    const int tid = G == 32 ? threadIdx.x & 31 : threadIdx.x;
    Top2 t{CUDART_INF, UINT_MAX, CUDART_INF, UINT_MAX};
#pragma unroll
    for (int k = 0; k < CPL; ++k) {
        if (!(valid >> k & 1)) continue;
        const unsigned j = (unsigned)(k * G + tid);
        const double h = sign * (double)ci[j] - v[k];
        if (before(h, j, t.m1, t.k1)) { t.m2 = t.m1; t.k2 = t.k1; t.m1 = h; t.k1 = j; }
        else if (before(h, j, t.m2, t.k2)) { t.m2 = h; t.k2 = j; }
    }
    return group_top2<G>(t, sh);
}

template <class T, int G, int CPL>
__global__ void __launch_bounds__(G == 32 ? 128 : G)
sap_kernel(const T* __restrict__ costs, long long batch, int n, int m, double sign, bool auction_only,
           double auction_eps, int32_t* __restrict__ col_out, double* __restrict__ objective_out,
           double* __restrict__ bound_out, double* __restrict__ u_out, double* __restrict__ v_out,
           int8_t* __restrict__ status_out) {
    const int P = G == 32 ? blockDim.x >> 5 : 1;  // problems per block
    constexpr int W = G / 32;
    extern __shared__ __align__(16) unsigned char smem[];
    const int group = G == 32 ? threadIdx.x >> 5 : 0;
    const int tid = G == 32 ? threadIdx.x & 31 : threadIdx.x;
    const long long b = (long long)blockIdx.x * P + group;
    if (b >= batch) return;  // a whole warp (G == 32 only: then no barrier spans warps)
    Shared<G> sh(smem + group * Shared<G>::bytes(n, m), n, m);
    int* const y = sh.y;
    int* const pred = sh.pred;
    int* const x = sh.x;
    const T* const c = costs + b * (long long)n * m;

    double v[CPL], d[CPL];
    unsigned valid = 0;  // bit k: column k * G + tid exists
#pragma unroll
    for (int k = 0; k < CPL; ++k) {
        v[k] = 0.0;
        d[k] = CUDART_INF;
        const int j = k * G + tid;
        if (j < m) { valid |= 1u << k; y[j] = -1; }
    }
    for (int i = tid; i < n; i += G) x[i] = -1;
    group_sync<G>();

    bool infeasible = false;
    bool use_auction = false;
    double lo = CUDART_INF, hi = -CUDART_INF;
    bool integral = true, forbidden = false;
    if (n == m) {
        // Column reduction (JV sec. 3): v_j = min_i c_ij; each column claims its argmin row if no
        // column took it first. Claimed edges have zero reduced cost at the row minimum, as
        // augmentation requires; columns left unclaimed stay free.
        double best[CPL];
        int arg[CPL];
#pragma unroll
        for (int k = 0; k < CPL; ++k) { best[k] = CUDART_INF; arg[k] = -1; }
#pragma unroll 4
        for (int i = 0; i < n; ++i) {
            const T* ci = c + (long long)i * m;
#pragma unroll
            for (int k = 0; k < CPL; ++k) {
                if (!(valid >> k & 1)) continue;
                const double h = sign * (double)ci[k * G + tid];
                if (h < best[k]) { best[k] = h; arg[k] = i; }
                if (h == CUDART_INF) {
                    forbidden = true;
                } else {
                    lo = fmin(lo, h);
                    hi = fmax(hi, h);
                    integral = integral && h == floor(h);
                }
            }
        }
        bool empty_column = false;
#pragma unroll
        for (int k = 0; k < CPL; ++k) {
            if (!(valid >> k & 1)) continue;
            if (arg[k] < 0) { empty_column = true; continue; }  // every entry forbidden
            v[k] = best[k];
            const int j = k * G + tid;
            if (atomicCAS(&x[arg[k]], -1, j) == -1) y[j] = arg[k];
        }
        if constexpr (G == 32) infeasible = __any_sync(kFull, empty_column);
        else infeasible = __syncthreads_or(empty_column);
        group_sync<G>();
        // As solve_exact (cpp/lap/exact.h): when column reduction leaves most rows free (inner-
        // product costs: one large-norm row is the best of nearly every column), the auction
        // hybrid of cpp/lap/hybrid.h instead of JV's row reduction and n shortest paths.
        double nfree = 0.0;
        for (int i = tid; i < n; i += G) nfree += x[i] < 0 ? 1.0 : 0.0;
        nfree = group_reduce<G>(nfree, Op::sum, sh);
        const bool any_forbidden = group_reduce<G>(forbidden ? 1.0 : 0.0, Op::max, sh) > 0.0;
        lo = group_reduce<G>(lo, Op::min, sh);
        hi = group_reduce<G>(hi, Op::max, sh);
        integral = group_reduce<G>(integral ? 0.0 : 1.0, Op::max, sh) == 0.0;
        // Up to n = 128 JV's row reduction and paths stay faster on the GPU (H100, semantic costs:
        // 46 vs 58 ms for 100,000 problems of n = 64, 10 vs 13 ms for 1,000 of n = 128), above it
        // the auction wins (n = 196..1024: 1.6 to 7x).
        use_auction = !infeasible && !any_forbidden &&
                      (auction_only || (n > 128 && 2.0 * nfree > n && hi > lo));
    }

    if (use_auction) {
        // Forward auction with eps-scaling, Gauss-Seidel (cpp/lap/auction.h, step for step): the
        // free row at the head of the queue takes its best column j1 and lowers v_j1 until j1 is
        // eps dearer than its second best; the row it displaces joins the tail. Every phase starts
        // with all rows free and keeps the potentials, which start as the column minima that
        // column reduction left in v; the schedule is cpp/lap/auction_schedule.h's, ending at the
        // hand-over eps of cpp/lap/hybrid.h, or, for the auction alone, at its final eps
        // (default_auction_schedule in cpp/lap/auction.h).
        const double range = hi - lo;
        const double eps_floor = auction_eps_floor(lo, hi);
        const double eps_default = auction_default_eps(lo, hi, integral, m);
        double eps_start, eps_final;
        if (auction_only) {
            eps_final = auction_eps > 0.0 ? fmax(auction_eps, eps_floor) : eps_default;
            eps_start = fmax(range * kAuctionStart, eps_final);
        } else {
            eps_start = fmax(range * kAuctionStart, eps_default);
            eps_final = fmin(fmax(range * kHybridHandover / m, eps_floor), eps_start);
        }
        for (double eps = eps_start;; eps = fmax(eps / kAuctionFactor, eps_final)) {
#pragma unroll
            for (int k = 0; k < CPL; ++k)
                if (valid >> k & 1) y[k * G + tid] = -1;
            for (int i = tid; i < n; i += G) { x[i] = -1; sh.queue[i] = i; }
            group_sync<G>();
            for (int head = 0, count = n; head < count;) {
                const int i = sh.queue[head % n];
                ++head;
                const T* ci = c + (long long)i * m;
                const Top2 t = row_top2<T, G, CPL>(ci, v, valid, sign, sh);
                const int j1 = (int)t.k1;
#pragma unroll
                for (int k = 0; k < CPL; ++k)
                    if (k * G + tid == j1) v[k] -= (t.m2 == CUDART_INF ? 0.0 : t.m2 - t.m1) + eps;
                const int previous = y[j1];
                group_sync<G>();  // every thread has read y before it changes
                if (tid == 0) {
                    y[j1] = i;
                    x[i] = j1;
                    if (previous >= 0) {
                        x[previous] = -1;
                        sh.queue[count % n] = previous;
                    }
                }
                if (previous >= 0) ++count;
                group_sync<G>();
            }
            if (eps <= eps_final) break;
        }
        // Hand-over: keep the rows whose column is exactly a row minimum of c - v (the invariant
        // of the augmentation); the others are freed for the shortest paths. The auction alone
        // ends here, every row assigned.
        for (int i = 0; i < n && !auction_only; ++i) {
            const T* ci = c + (long long)i * m;
            const int xi = x[i];
            double lmin = CUDART_INF, at = CUDART_INF;
#pragma unroll
            for (int k = 0; k < CPL; ++k) {
                if (!(valid >> k & 1)) continue;
                const int j = k * G + tid;
                const double h = sign * (double)ci[j] - v[k];
                lmin = fmin(lmin, h);
                if (j == xi) at = h;
            }
            lmin = group_reduce<G>(lmin, Op::min, sh);
            at = group_reduce<G>(at, Op::min, sh);
            group_sync<G>();  // every thread has read x[i] before it changes
            if (tid == 0 && at != lmin) {
                y[xi] = -1;
                x[i] = -1;
            }
        }
        group_sync<G>();
    } else if (!infeasible) {
        // Augmenting row reduction (JV sec. 3): a free row i takes its best column j1, lowering
        // v_j1 until j1 ties with the second best (u2 - u1), and displaces j1's row, which is
        // processed next (strict decrease) or queued (tie, then i takes the second best column).
        // It keeps the invariant of the augmentation below and assigns most rows in one row scan
        // each; a budget of ARR steps bounds it (tiny float decrements could go on for long), and
        // whatever stays free is left to the shortest augmenting paths.
        if (tid == 0) {
            int k = 0;
            for (int i = 0; i < n; ++i)
                if (x[i] < 0) sh.queue[k++] = i;
            *sh.count = k;
        }
        group_sync<G>();
        int count = *sh.count, head = 0;
        for (long long budget = 4LL * n; head < count && budget > 0; --budget) {
            const int i = sh.queue[head % n];
            ++head;
            const T* ci = c + (long long)i * m;
            const Top2 t = row_top2<T, G, CPL>(ci, v, valid, sign, sh);
            if (t.m1 == CUDART_INF) { infeasible = true; break; }  // a row with every entry forbidden
            if (t.m2 == CUDART_INF) continue;  // one usable column: leave the row to the paths
            int j1 = (int)t.k1;
            int i0 = y[j1];
            const bool strict = t.m1 < t.m2;
            if (strict) {
#pragma unroll
                for (int k = 0; k < CPL; ++k)
                    if (k * G + tid == j1) v[k] -= t.m2 - t.m1;
            } else if (i0 >= 0) {
                j1 = (int)t.k2;
                i0 = y[j1];
            }
            group_sync<G>();  // every thread has read y before it changes
            if (tid == 0) {
                x[i] = j1;
                y[j1] = i;
                if (i0 >= 0) {
                    x[i0] = -1;
                    if (strict) sh.queue[(head - 1) % n] = i0;
                    else sh.queue[count % n] = i0;
                }
            }
            if (i0 >= 0) {
                if (strict) --head;
                else ++count;
            }
            group_sync<G>();
        }
    }

    for (int f = 0; f < n && !infeasible; ++f) {
        if (x[f] >= 0) continue;
        // Dijkstra from the free row f over reduced costs c_ij - v_j.
        const T* cf = c + (long long)f * m;
        unsigned scanned = ~valid;  // missing columns count as scanned: never selected
        unsigned freecol = 0;
#pragma unroll
        for (int k = 0; k < CPL; ++k) {
            if (!(valid >> k & 1)) continue;
            const int j = k * G + tid;
            d[k] = sign * (double)cf[j] - v[k];
            pred[j] = f;
            if (y[j] < 0) freecol |= 1u << k;
        }
        double dmin = 0.0;
        int end = -1;
        for (;;) {
            double ld = CUDART_INF, lv = 0.0;
            unsigned lk = UINT_MAX;
#pragma unroll
            for (int k = 0; k < CPL; ++k) {
                if (scanned >> k & 1) continue;
                const unsigned key = (freecol >> k & 1 ? 0u : kBusyBit) | (unsigned)(k * G + tid);
                if (d[k] < ld || (d[k] == ld && key < lk)) { ld = d[k]; lk = key; lv = v[k]; }
            }
            const Argmin best = group_argmin<G>(ld, lk, lv, sh);
            dmin = best.d;
            if (dmin == CUDART_INF) { infeasible = true; break; }  // only forbidden edges remain
            const int j1 = (int)(best.key & (kBusyBit - 1));
            if (!(best.key & kBusyBit)) { end = j1; break; }  // a free column: the path is found
            if (j1 % G == tid) scanned |= 1u << (j1 / G);
            const int i = y[j1];
            const T* ci = c + (long long)i * m;
            // u1: row i's potential, lowered by dmin so that h below is the path length via i.
            const double u1 = sign * (double)ci[j1] - best.v - dmin;
#pragma unroll
            for (int k = 0; k < CPL; ++k) {
                if (scanned >> k & 1) continue;
                const int j = k * G + tid;
                const double h = sign * (double)ci[j] - v[k] - u1;
                if (h < d[k]) { d[k] = h; pred[j] = i; }
            }
        }
        if (infeasible) break;
        // Scanned columns have d <= dmin; lowering their potentials by dmin - d keeps every
        // assigned edge tight and every reduced cost non-negative (as in cpp/lap/sap.h).
#pragma unroll
        for (int k = 0; k < CPL; ++k)
            if ((scanned & valid) >> k & 1) v[k] += d[k] - dmin;
        group_sync<G>();
        if (tid == 0) {
            int i;
            do {
                i = pred[end];
                y[end] = i;
                const int next = x[i];
                x[i] = end;
                end = next;
            } while (i != f);
        }
        group_sync<G>();
    }

    double* const vo = v_out + b * m;
    double* const uo = u_out + b * n;
    int32_t* const co = col_out + b * n;
    if (infeasible) {
        for (int i = tid; i < n; i += G) { co[i] = -1; uo[i] = CUDART_NAN; }
        for (int j = tid; j < m; j += G) vo[j] = CUDART_NAN;
        if (tid == 0) {
            objective_out[b] = CUDART_NAN;
            bound_out[b] = CUDART_NAN;
            status_out[b] = (int8_t)LapStatus::infeasible;
        }
        return;
    }

    // Certificate, as dual_lower_bound in cpp/lap/row_minima.h: with v shifted to v_j <= 0 when n < m
    // and u_i = min_j (c_ij - v_j), sum u + sum v is a lower bound on the optimum.
    double vmax = -CUDART_INF, vsum = 0.0;
#pragma unroll
    for (int k = 0; k < CPL; ++k) {
        if (!(valid >> k & 1)) continue;
        vo[k * G + tid] = v[k];
        vmax = fmax(vmax, v[k]);
        vsum += v[k];
    }
    const double shift = n < m ? group_reduce<G>(vmax, Op::max, sh) : 0.0;
    vsum = group_reduce<G>(vsum, Op::sum, sh);
    group_sync<G>();  // vo is read by other threads below
    const int lane = tid & 31, warp = tid >> 5;
    double usum = 0.0, objective = 0.0;
    for (int i = warp; i < n; i += W) {
        const T* ci = c + (long long)i * m;
        const int xi = x[i];
        double umin = CUDART_INF;
        for (int j = lane; j < m; j += 32) {
            const double cij = sign * (double)ci[j];
            umin = fmin(umin, cij - vo[j]);
            if (j == xi) objective += cij;
        }
#pragma unroll
        for (int off = 16; off; off >>= 1) umin = fmin(umin, __shfl_xor_sync(kFull, umin, off));
        if (lane == 0) {
            uo[i] = sign * umin;
            usum += umin + shift;
        }
        if (lane == 0) co[i] = xi;
    }
    usum = group_reduce<G>(usum, Op::sum, sh);
    objective = group_reduce<G>(objective, Op::sum, sh);
    group_sync<G>();
#pragma unroll
    for (int k = 0; k < CPL; ++k)
        if (valid >> k & 1) vo[k * G + tid] = sign * v[k];
    if (tid == 0) {
        objective_out[b] = sign * objective;
        bound_out[b] = sign * (vsum - (double)m * shift + usum);
        status_out[b] = (int8_t)LapStatus::ok;
    }
}

template <class T, int G, int CPL>
void launch(const DeviceLapBatch& p, int multiprocessors, cudaStream_t stream) {
    // A warp per problem: four to a block when there are enough problems to fill every SM beyond
    // its limit of 32 blocks, else one, so that a small batch still spreads over all SMs.
    const int P = G == 32 && p.batch >= 32LL * multiprocessors ? 4 : 1;
    const size_t bytes = Shared<G>::bytes(p.n, p.m) * P;
    auto kernel = sap_kernel<T, G, CPL>;
    if (bytes > 48 * 1024)
        SEMRSM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    const long long per_launch = (long long)P * (1 << 30);  // grid.x stays below 2^31
    for (long long start = 0; start < p.batch; start += per_launch) {
        const long long count = std::min(per_launch, p.batch - start);
        const unsigned blocks = (unsigned)((count + P - 1) / P);
        const long long n = p.n, m = p.m;
        kernel<<<blocks, P * G, bytes, stream>>>(
            reinterpret_cast<const T*>(p.costs) + start * n * m, count, p.n, p.m, p.maximize ? -1.0 : 1.0,
            p.auction_only, p.auction_eps, reinterpret_cast<int32_t*>(p.col) + start * n, reinterpret_cast<double*>(p.objective) + start,
            reinterpret_cast<double*>(p.bound) + start, reinterpret_cast<double*>(p.u) + start * n,
            reinterpret_cast<double*>(p.v) + start * m, reinterpret_cast<int8_t*>(p.status) + start);
        SEMRSM_CUDA_CHECK_LAUNCH("sap_kernel");
    }
}

template <class T, int CPL>
void launch_block(int g, const DeviceLapBatch& p, int sms, cudaStream_t stream) {
    switch (g) {
        case 64: return launch<T, 64, CPL>(p, sms, stream);
        case 128: return launch<T, 128, CPL>(p, sms, stream);
        case 256: return launch<T, 256, CPL>(p, sms, stream);
        case 512: return launch<T, 512, CPL>(p, sms, stream);
        default: return launch<T, 1024, CPL>(p, sms, stream);
    }
}

template <class T>
void dispatch(const DeviceLapBatch& p, int multiprocessors, cudaStream_t stream) {
    const int m = p.m;
    if (m <= 32) return launch<T, 32, 1>(p, multiprocessors, stream);
    if (m <= 64) return launch<T, 32, 2>(p, multiprocessors, stream);
    if (m <= 128) return launch<T, 32, 4>(p, multiprocessors, stream);
    if (m <= 256) return launch<T, 32, 8>(p, multiprocessors, stream);
    // Above 256 columns a block per problem. Few problems leave most of the GPU idle, so spread
    // each over more threads (2 columns each); many problems fill it, so 8 columns per thread.
    int cpl = p.batch < 2LL * multiprocessors ? 2 : 8;
    int g = 64;
    while (g * cpl < m && g < 1024) g *= 2;
    while (g * cpl < m) cpl *= 2;
    if (cpl == 2) return launch_block<T, 2>(g, p, multiprocessors, stream);
    if (cpl == 4) return launch_block<T, 4>(g, p, multiprocessors, stream);
    return launch_block<T, 8>(g, p, multiprocessors, stream);
}

}  // namespace

void solve_batch_sap(const DeviceLapBatch& p, int device, std::uintptr_t stream_handle) {
    if (p.n < 1 || p.m < p.n) throw std::invalid_argument("the GPU solver needs 1 <= n <= m");
    if (p.m > kMaxSapColumns)
        throw std::invalid_argument("the GPU solver takes at most " + std::to_string(kMaxSapColumns) +
                                    " columns; got " + std::to_string(p.m));
    if (p.batch <= 0) return;
    const DeviceScope on_device(device);
    int multiprocessors = 0;
    SEMRSM_CUDA_CHECK(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device));
    cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
    if (p.is_double) dispatch<double>(p, multiprocessors, stream);
    else dispatch<float>(p, multiprocessors, stream);
}

}  // namespace semrsm::cuda
