// The cost block of a pair of samples: out = -A B^T for A (n x K) and B (m x K), both row-major,
// i.e. minus the inner products of every position of one sample with every position of the other.
// The block is written negated because the LAP solvers minimise and the semantic objective is a
// maximum; negation is exact, so nothing is lost.
//
// Goto & van de Geijn, "Anatomy of high-performance matrix multiplication", ACM TOMS 34(3) 2008:
// B is packed into panels of NR columns stored k-major (one contiguous NR-vector per k), and a
// register tile of MR x NR accumulators is updated by rank-1 steps. The NR loop has no reduction,
// so it vectorises without -ffast-math; every output is summed over k in increasing order, so a
// block does not depend on how pairs are spread over threads. On x86-64 the kernel is compiled for
// the baseline ISA, AVX2+FMA and AVX-512 and picked at run time (cost_block below).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__GNUC__)
#define SEMRSM_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SEMRSM_ALWAYS_INLINE inline
#endif

namespace semrsm {

// Register tile for vectors of VB bytes, in GCC's generic vector extension (lowered to the ISA the
// calling kernel is compiled for). MR x 2 accumulators plus two B vectors and one broadcast fit in
// the 16 registers of AVX2 (MR = 6) or the 32 of AVX-512 (MR = 12).
template <class T, int VB>
struct GemmTile {
    typedef T Vec __attribute__((vector_size(VB)));
    static constexpr int lanes = VB / sizeof(T);
    static constexpr int MR = VB >= 64 ? 12 : 6;  // rows of A per register tile
    static constexpr int NR = 2 * lanes;          // columns of B per panel
};

// Packs m rows of B (rows rows_b[0..m) of a matrix with K columns, or its first m rows when rows_b
// is null) into ceil(m / NR) panels of K x NR; columns past m are zero.
template <class T, int NR>
SEMRSM_ALWAYS_INLINE void pack_panels(const T* B, const int32_t* rows_b, int m, int K, T* packed) {
    for (int p = 0; p < m; p += NR) {
        T* panel = packed + (int64_t)p * K;
        const int width = std::min(NR, m - p);
        const T* row[NR];
        for (int r = 0; r < NR; ++r) {
            const int j = p + std::min(r, width - 1);
            row[r] = B + (int64_t)(rows_b ? rows_b[j] : j) * K;
        }
        for (int k = 0; k < K; ++k)
            for (int r = 0; r < NR; ++r) panel[(int64_t)k * NR + r] = r < width ? row[r][k] : T(0);
    }
}

// out[i * ldo + j] = -sum_k A[i'][k] * B[j][k] for i < n, j < m, with B already packed, where
// i' = rows_a[i] (or i when rows_a is null).
template <class T, int VB>
SEMRSM_ALWAYS_INLINE void gemm_nt_neg_packed(const T* A, const int32_t* rows_a, int n, const T* packed,
                                             int m, int K, T* out, int64_t ldo) {
    typedef GemmTile<T, VB> Tile;
    typedef typename Tile::Vec Vec;
    constexpr int MR = Tile::MR, NR = Tile::NR, L = Tile::lanes;
    // Rows of A in blocks of about 128 KiB, which stay in L2 while every panel of B passes by; a
    // panel (K x NR) stays in L1 while the row tiles of the block stream past it.
    const int rows_per_block = std::max(MR, (int)(131072 / (sizeof(T) * std::max(K, 1))) / MR * MR);
    for (int ib = 0; ib < n; ib += rows_per_block)
    for (int p = 0; p < m; p += NR) {
        const T* panel = packed + (int64_t)p * K;
        const int width = std::min(NR, m - p);
        for (int i0 = ib; i0 < std::min(n, ib + rows_per_block); i0 += MR) {
            const int rows = std::min(MR, n - i0);
            Vec acc[MR][2];
            for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = Vec{};
            const T* a[MR];
            for (int r = 0; r < MR; ++r) {
                const int i = i0 + std::min(r, rows - 1);
                a[r] = A + (int64_t)(rows_a ? rows_a[i] : i) * K;
            }
            for (int k = 0; k < K; ++k) {
                Vec b0, b1;
                std::memcpy(&b0, panel + (int64_t)k * NR, sizeof(Vec));
                std::memcpy(&b1, panel + (int64_t)k * NR + L, sizeof(Vec));
#pragma GCC unroll 12
                for (int r = 0; r < MR; ++r) {
                    const T ar = a[r][k];
                    acc[r][0] += ar * b0;
                    acc[r][1] += ar * b1;
                }
            }
            for (int r = 0; r < rows; ++r) {
                T* o = out + (int64_t)(i0 + r) * ldo + p;
                for (int c = 0; c < width; ++c) o[c] = -acc[r][c / L][c % L];
            }
        }
    }
}

// Scratch for one thread: the packed panels of B.
template <class T>
struct GemmScratch {
    std::vector<T> packed;
};

// The arguments of one cost block: rows rows_a[0..n) of A against rows rows_b[0..m) of B (a null
// index means the first n or m rows), K columns each, into out with leading dimension ldo.
template <class T>
struct BlockArgs {
    const T* A;
    const int32_t* rows_a;
    int n;
    const T* B;
    const int32_t* rows_b;
    int m, K;
    T* out;
    int64_t ldo;
};

template <class T, int VB>
SEMRSM_ALWAYS_INLINE void cost_block_kernel(const BlockArgs<T>& g, GemmScratch<T>& scratch) {
    constexpr int NR = GemmTile<T, VB>::NR;
    const int64_t size = (int64_t)((g.m + NR - 1) / NR) * NR * g.K;
    if ((int64_t)scratch.packed.size() < size) scratch.packed.resize(size);
    pack_panels<T, NR>(g.B, g.rows_b, g.m, g.K, scratch.packed.data());
    gemm_nt_neg_packed<T, VB>(g.A, g.rows_a, g.n, scratch.packed.data(), g.m, g.K, g.out, g.ldo);
}

template <class T>
void cost_block_portable(const BlockArgs<T>& g, GemmScratch<T>& s) {
    cost_block_kernel<T, 32>(g, s);
}

#if defined(__GNUC__) && defined(__x86_64__)
template <class T>
__attribute__((target("avx2,fma"))) void cost_block_avx2(const BlockArgs<T>& g, GemmScratch<T>& s) {
    cost_block_kernel<T, 32>(g, s);
}

template <class T>
__attribute__((target("avx512f,avx2,fma"))) void cost_block_avx512(const BlockArgs<T>& g,
                                                                   GemmScratch<T>& s) {
    cost_block_kernel<T, 64>(g, s);
}

inline bool cpu_has_avx2_fma() {
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has;
}

inline bool cpu_has_avx512() {
    static const bool has = cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f");
    return has;
}
#endif

enum class GemmIsa { best = 0, portable = 1, avx2 = 2, avx512 = 3 };

// Whether this CPU runs the kernel for `isa` (best and portable always run).
inline bool gemm_isa_available(GemmIsa isa) {
#if defined(__GNUC__) && defined(__x86_64__)
    if (isa == GemmIsa::avx2) return cpu_has_avx2_fma();
    if (isa == GemmIsa::avx512) return cpu_has_avx512();
    return true;
#else
    return isa == GemmIsa::best || isa == GemmIsa::portable;
#endif
}

// The negated cost block -A' B'^T of rows of A and B (see BlockArgs), by the fastest kernel this
// CPU runs (or the one `isa` names, for tests). Indexed rows are read in place, not gathered.
template <class T>
void cost_block(const BlockArgs<T>& g, GemmScratch<T>& scratch, GemmIsa isa = GemmIsa::best) {
#if defined(__GNUC__) && defined(__x86_64__)
    if (isa == GemmIsa::avx512 || (isa == GemmIsa::best && cpu_has_avx512()))
        return cost_block_avx512(g, scratch);
    if (isa == GemmIsa::avx2 || (isa == GemmIsa::best && cpu_has_avx2_fma()))
        return cost_block_avx2(g, scratch);
#endif
    cost_block_portable(g, scratch);
}

// out (n x m, leading dimension ldo) = -A B^T for A (n x K) and B (m x K), both row-major.
template <class T>
void cost_block(const T* A, int n, const T* B, int m, int K, T* out, int64_t ldo, GemmScratch<T>& scratch,
                GemmIsa isa = GemmIsa::best) {
    cost_block(BlockArgs<T>{A, nullptr, n, B, nullptr, m, K, out, ldo}, scratch, isa);
}

}  // namespace semrsm
