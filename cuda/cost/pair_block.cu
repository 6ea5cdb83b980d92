// Pair cost blocks on the GPU: out[p] = X_a X_b^T for a list of pairs (a, b), read straight from
// X (N, S, C) without gathering copies; the GPU twin of cpp/cost/.
//
// Both operands are row-major S x C with C contiguous ("NT" GEMM), one block per output tile and
// pair (a flat grid: tile-major within a pair, so the blocks of one pair run together and share
// X_a and X_b through L2). The float32 path is a classic register-blocked SIMT GEMM (Volkov &
// Demmel 2008; the CUTLASS SIMT layout): shared tiles stored k-major, double buffered through
// registers, each thread accumulating a TM x TN micro-tile whose rows and columns are strided by
// the thread grid so that shared reads are broadcast or conflict-free. Tile sizes are picked to
// waste the least padding: 98 x 98 fits the sizes of the paper exactly (S = 196 = 14^2 and
// S = 784 = 28^2 positions). The TF32 path uses the tensor cores through WMMA (m16n16k8, sm_80+):
// inputs rounded to TF32 (10-bit mantissa), float32 accumulation.
#include <mma.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "check.h"
#include "cuda_engine.h"

namespace semrsm::cuda {
namespace {

// Global -> registers -> shared staging of one k-slice of the A (rows row0..) and B (rows col0..)
// tiles, zero-padded outside S x C: consecutive threads read consecutive k, stores are k-major.
template <int BM, int BN, int BK, int NT>
struct TileLoader {
    static constexpr int LA = (BM * BK + NT - 1) / NT, LB = (BN * BK + NT - 1) / NT;
    float ra[LA], rb[LB];

    __device__ __forceinline__ void load(const float* A, const float* B, int row0, int col0, int S, int C,
                                         int k0, int tid) {
#pragma unroll
        for (int l = 0; l < LA; ++l) {
            const int e = tid + l * NT, kk = e % BK, r = e / BK, gr = row0 + r, gk = k0 + kk;
            ra[l] = (e < BM * BK && gr < S && gk < C) ? A[(long long)gr * C + gk] : 0.0f;
        }
#pragma unroll
        for (int l = 0; l < LB; ++l) {
            const int e = tid + l * NT, kk = e % BK, r = e / BK, gr = col0 + r, gk = k0 + kk;
            rb[l] = (e < BN * BK && gr < S && gk < C) ? B[(long long)gr * C + gk] : 0.0f;
        }
    }
    template <int LDA, int LDB>
    __device__ __forceinline__ void store(float (*As)[LDA], float (*Bs)[LDB], int tid) const {
#pragma unroll
        for (int l = 0; l < LA; ++l) {
            const int e = tid + l * NT;
            if (e < BM * BK) As[e % BK][e / BK] = ra[l];
        }
#pragma unroll
        for (int l = 0; l < LB; ++l) {
            const int e = tid + l * NT;
            if (e < BN * BK) Bs[e % BK][e / BK] = rb[l];
        }
    }
};

template <int TY, int TX, int TM, int TN, int BK>
__global__ void __launch_bounds__(TY * TX)
pair_blocks_f32(const float* __restrict__ X, int S, int C, const int32_t* __restrict__ pairs,
                int tiles, float* __restrict__ out) {
    constexpr int BM = TY * TM, BN = TX * TN, NT = TY * TX;
    __shared__ float As[2][BK][BM + 1];
    __shared__ float Bs[2][BK][BN + 1];
    const long long blk = blockIdx.x;
    const long long p = blk / (tiles * tiles);
    const int t = (int)(blk % (tiles * tiles));
    const int row0 = (t / tiles) * BM, col0 = (t % tiles) * BN;
    const long long plane = (long long)S * C;
    const float* A = X + pairs[2 * p] * plane;
    const float* B = X + pairs[2 * p + 1] * plane;
    const int tid = threadIdx.x, ty = tid / TX, tx = tid % TX;

    TileLoader<BM, BN, BK, NT> tiles_in;

    float acc[TM][TN];
#pragma unroll
    for (int a = 0; a < TM; ++a)
#pragma unroll
        for (int q = 0; q < TN; ++q) acc[a][q] = 0.0f;

    tiles_in.load(A, B, row0, col0, S, C, 0, tid);
    tiles_in.store(As[0], Bs[0], tid);
    __syncthreads();
    int buf = 0;
    for (int k0 = 0; k0 < C; k0 += BK) {
        const bool more = k0 + BK < C;
        // The next slice is in flight while this one is multiplied.
        if (more) tiles_in.load(A, B, row0, col0, S, C, k0 + BK, tid);
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            float a[TM], bv[TN];
#pragma unroll
            for (int r = 0; r < TM; ++r) a[r] = As[buf][kk][ty + TY * r];
#pragma unroll
            for (int q = 0; q < TN; ++q) bv[q] = Bs[buf][kk][tx + TX * q];
#pragma unroll
            for (int r = 0; r < TM; ++r)
#pragma unroll
                for (int q = 0; q < TN; ++q) acc[r][q] = fmaf(a[r], bv[q], acc[r][q]);
        }
        // The other buffer: every thread finished reading it before the last barrier.
        if (more) tiles_in.store(As[buf ^ 1], Bs[buf ^ 1], tid);
        __syncthreads();
        buf ^= 1;
    }
    float* o = out + p * (long long)S * S;
#pragma unroll
    for (int r = 0; r < TM; ++r) {
        const int gr = row0 + ty + TY * r;
        if (gr >= S) continue;
#pragma unroll
        for (int q = 0; q < TN; ++q) {
            const int gc = col0 + tx + TX * q;
            if (gc < S) o[(long long)gr * S + gc] = acc[r][q];
        }
    }
}

// The same with 8 x 8 micro-tiles read as float4 from shared memory: each thread's rows are two runs
// of four, {4 ty .. 4 ty + 3} and BM/2 + {4 ty .. 4 ty + 3} (likewise its columns), so that the
// 16-byte reads of a quarter warp cover 128 contiguous bytes without bank conflicts (the CUTLASS
// SIMT layout). Half the shared-memory instructions per FMA of the scalar 7 x 7 kernel.
template <int TY, int TX, int BK>
__global__ void __launch_bounds__(TY * TX)
pair_blocks_f32x4(const float* __restrict__ X, int S, int C, const int32_t* __restrict__ pairs,
                  int tiles, float* __restrict__ out) {
    constexpr int BM = TY * 8, BN = TX * 8, NT = TY * TX, LDA = BM + 4, LDB = BN + 4;
    __shared__ __align__(16) float As[2][BK][LDA];
    __shared__ __align__(16) float Bs[2][BK][LDB];
    const long long blk = blockIdx.x;
    const long long p = blk / (tiles * tiles);
    const int t = (int)(blk % (tiles * tiles));
    const int row0 = (t / tiles) * BM, col0 = (t % tiles) * BN;
    const long long plane = (long long)S * C;
    const float* A = X + pairs[2 * p] * plane;
    const float* B = X + pairs[2 * p + 1] * plane;
    const int tid = threadIdx.x, ty = tid / TX, tx = tid % TX;

    TileLoader<BM, BN, BK, NT> tiles_in;

    float acc[8][8];
#pragma unroll
    for (int a = 0; a < 8; ++a)
#pragma unroll
        for (int q = 0; q < 8; ++q) acc[a][q] = 0.0f;

    tiles_in.load(A, B, row0, col0, S, C, 0, tid);
    tiles_in.store(As[0], Bs[0], tid);
    __syncthreads();
    int buf = 0;
    for (int k0 = 0; k0 < C; k0 += BK) {
        const bool more = k0 + BK < C;
        if (more) tiles_in.load(A, B, row0, col0, S, C, k0 + BK, tid);
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            const float4 a0 = *reinterpret_cast<const float4*>(&As[buf][kk][4 * ty]);
            const float4 a1 = *reinterpret_cast<const float4*>(&As[buf][kk][BM / 2 + 4 * ty]);
            const float4 b0 = *reinterpret_cast<const float4*>(&Bs[buf][kk][4 * tx]);
            const float4 b1 = *reinterpret_cast<const float4*>(&Bs[buf][kk][BN / 2 + 4 * tx]);
            const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int r = 0; r < 8; ++r)
#pragma unroll
                for (int q = 0; q < 8; ++q) acc[r][q] = fmaf(a[r], bv[q], acc[r][q]);
        }
        if (more) tiles_in.store(As[buf ^ 1], Bs[buf ^ 1], tid);
        __syncthreads();
        buf ^= 1;
    }
    float* o = out + p * (long long)S * S;
#pragma unroll
    for (int r = 0; r < 8; ++r) {
        const int gr = row0 + (r < 4 ? 4 * ty + r : BM / 2 + 4 * ty + r - 4);
        if (gr >= S) continue;
#pragma unroll
        for (int q = 0; q < 8; ++q) {
            const int gc = col0 + (q < 4 ? 4 * tx + q : BN / 2 + 4 * tx + q - 4);
            if (gc < S) o[(long long)gr * S + gc] = acc[r][q];
        }
    }
}

// TF32 tensor cores: 64 x 64 tiles, four warps of 32 x 32 (2 x 2 fragments of 16 x 16), k-steps of 32.
constexpr int kT = 64, kTK = 32, kLd = kTK + 4, kLdc = kT + 4;

__global__ void __launch_bounds__(128)
pair_blocks_tf32(const float* __restrict__ X, int S, int C, const int32_t* __restrict__ pairs,
                 int tiles, float* __restrict__ out) {
    using namespace nvcuda;
    __shared__ __align__(128) float As[kT * kLd];
    __shared__ __align__(128) float Bs[kT * kLd];
    __shared__ __align__(128) float Cs[kT * kLdc];
    const long long blk = blockIdx.x;
    const long long p = blk / (tiles * tiles);
    const int t = (int)(blk % (tiles * tiles));
    const int row0 = (t / tiles) * kT, col0 = (t % tiles) * kT;
    const long long plane = (long long)S * C;
    const float* A = X + pairs[2 * p] * plane;
    const float* B = X + pairs[2 * p + 1] * plane;
    const int tid = threadIdx.x, warp = tid >> 5, wm = warp >> 1, wn = warp & 1;

    wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2][2];
#pragma unroll
    for (int a = 0; a < 2; ++a)
#pragma unroll
        for (int q = 0; q < 2; ++q) wmma::fill_fragment(acc[a][q], 0.0f);

    for (int k0 = 0; k0 < C; k0 += kTK) {
#pragma unroll 4
        for (int l = 0; l < kT * kTK / 128; ++l) {
            const int e = tid + l * 128, kk = e % kTK, r = e / kTK, gk = k0 + kk;
            const int ga = row0 + r, gb = col0 + r;
            As[r * kLd + kk] = wmma::__float_to_tf32(ga < S && gk < C ? A[(long long)ga * C + gk] : 0.0f);
            Bs[r * kLd + kk] = wmma::__float_to_tf32(gb < S && gk < C ? B[(long long)gb * C + gk] : 0.0f);
        }
        __syncthreads();
#pragma unroll
        for (int ks = 0; ks < kTK; ks += 8) {
            wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fb[2];
#pragma unroll
            for (int a = 0; a < 2; ++a) wmma::load_matrix_sync(fa[a], As + (wm * 32 + a * 16) * kLd + ks, kLd);
#pragma unroll
            for (int q = 0; q < 2; ++q) wmma::load_matrix_sync(fb[q], Bs + (wn * 32 + q * 16) * kLd + ks, kLd);
#pragma unroll
            for (int a = 0; a < 2; ++a)
#pragma unroll
                for (int q = 0; q < 2; ++q) wmma::mma_sync(acc[a][q], fa[a], fb[q], acc[a][q]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int a = 0; a < 2; ++a)
#pragma unroll
        for (int q = 0; q < 2; ++q)
            wmma::store_matrix_sync(Cs + (wm * 32 + a * 16) * kLdc + wn * 32 + q * 16, acc[a][q], kLdc,
                                    wmma::mem_row_major);
    __syncthreads();
    float* o = out + p * (long long)S * S;
    for (int e = tid; e < kT * kT; e += 128) {
        const int r = e / kT, q = e % kT, gr = row0 + r, gc = col0 + q;
        if (gr < S && gc < S) o[(long long)gr * S + gc] = Cs[r * kLdc + q];
    }
}

template <class Kernel>
void launch_tiles(Kernel kernel, int threads, int tile, const float* x, int s, int c, const int32_t* pairs,
                  long long count, float* out, cudaStream_t stream) {
    const int tiles = (s + tile - 1) / tile;
    const long long per_pair = (long long)tiles * tiles;
    const long long max_pairs = (long long)INT_MAX / per_pair;
    for (long long start = 0; start < count; start += max_pairs) {
        const long long chunk = std::min(max_pairs, count - start);
        kernel<<<(unsigned)(chunk * per_pair), threads, 0, stream>>>(x, s, c, pairs + 2 * start, tiles,
                                                                   out + start * (long long)s * s);
        SEMRSM_CUDA_CHECK_LAUNCH("pair_blocks");
    }
}

long long padded_area(int s, int tile) {
    const long long t = (s + tile - 1) / tile * (long long)tile;
    return t * t;
}

}  // namespace

void pair_cost_blocks(std::uintptr_t x_handle, std::int64_t samples, int s, int c, std::uintptr_t pairs_handle,
                      std::int64_t count, std::uintptr_t out_handle, bool tf32, int device,
                      std::uintptr_t stream_handle) {
    if (samples < 1 || s < 1 || c < 1) throw std::invalid_argument("pair_cost_blocks: empty input");
    if (count <= 0) return;
    const DeviceScope on_device(device);
    cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
    const float* x = reinterpret_cast<const float*>(x_handle);
    const int32_t* pairs = reinterpret_cast<const int32_t*>(pairs_handle);
    float* out = reinterpret_cast<float*>(out_handle);
    if (tf32) {
        launch_tiles(pair_blocks_tf32, 128, kT, x, s, c, pairs, count, out, stream);
        return;
    }
    // The tile wasting the least padding, counting the float4 8 x 8 kernels (112 and 128 wide) as
    // 1.3x faster per FMA than the scalar 7 x 7 one (98 wide); on a tie the larger tile.
    // SEMRSM_PAIR_TILE=64|98|112|112k8|128 forces one (for bench/bench_cuda.py).
    double a128 = padded_area(s, 128) / 1.3, a112 = padded_area(s, 112) / 1.3;
    double a98 = (double)padded_area(s, 98), a64 = (double)padded_area(s, 64);
    const char* forced = std::getenv("SEMRSM_PAIR_TILE");
    const std::string tile(forced ? forced : "");
    if (tile == "64" || tile == "98" || tile == "112" || tile == "112k8" || tile == "128") {
        if (tile == "112k8") {
            launch_tiles(pair_blocks_f32x4<14, 14, 8>, 196, 112, x, s, c, pairs, count, out, stream);
            return;
        }
        a128 = tile == "128" ? 0 : 1e300;
        a112 = tile == "112" ? 0 : 1e300;
        a98 = tile == "98" ? 0 : 1e300;
        a64 = tile == "64" ? 0 : 1e300;
    }
    if (a128 <= a112 && a128 <= a98 && a128 <= a64)
        launch_tiles(pair_blocks_f32x4<16, 16, 8>, 256, 128, x, s, c, pairs, count, out, stream);
    else if (a112 <= a98 && a112 <= a64)  // k-slices of 16: 6.1 vs 7.3 ms at S = 784, C = 256 (H100)
        launch_tiles(pair_blocks_f32x4<14, 14, 16>, 196, 112, x, s, c, pairs, count, out, stream);
    else if (a98 <= a64)
        launch_tiles(pair_blocks_f32<14, 14, 7, 7, 16>, 196, 98, x, s, c, pairs, count, out, stream);
    else
        launch_tiles(pair_blocks_f32<16, 16, 4, 4, 16>, 256, 64, x, s, c, pairs, count, out, stream);
}

}  // namespace semrsm::cuda
