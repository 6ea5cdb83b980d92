// The CUDA engine's batched LAP driver, the GPU twin of cpp/engine/batch.cpp: one kernel, launched from here
// alone, in which a group of threads solves each problem (cuda/lap/exact.cuh) and writes its results
// as the CPU engine does.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "check.h"
#include "cuda_engine.h"
#include "lap/exact.cuh"
#include "lap/row_minima.cuh"

namespace semrsm::cuda {
namespace {

template <class T, int G, int CPL>
__global__ void __launch_bounds__(G == 32 ? 128 : G)
lap_kernel(const T* __restrict__ costs, long long batch, int n, int m, double sign, bool auction_only,
           double auction_eps, int32_t* __restrict__ col_out, double* __restrict__ objective_out,
           double* __restrict__ bound_out, double* __restrict__ u_out, double* __restrict__ v_out,
           int8_t* __restrict__ status_out) {
    const int P = G == 32 ? blockDim.x >> 5 : 1;  // problems per block
    extern __shared__ __align__(16) unsigned char smem[];
    const int group = G == 32 ? threadIdx.x >> 5 : 0;
    const int tid = G == 32 ? threadIdx.x & 31 : threadIdx.x;
    const long long b = (long long)blockIdx.x * P + group;
    if (b >= batch) return;  // a whole warp (G == 32 only: then no barrier spans warps)
    GroupProblem<T, G, CPL> p(costs + b * (long long)n * m, n, m, sign, tid,
                              smem + group * Shared<G>::bytes(n, m));
    if (solve_exact(p, auction_only, auction_eps))
        write_solution(p, col_out + b * n, objective_out + b, bound_out + b, u_out + b * n, v_out + b * m,
                       status_out + b);
    else
        write_infeasible(p, col_out + b * n, objective_out + b, bound_out + b, u_out + b * n, v_out + b * m,
                         status_out + b);
}

template <class T, int G, int CPL>
void launch(const DeviceLapBatch& p, int multiprocessors, cudaStream_t stream) {
    // A warp per problem: four to a block when there are enough problems to fill every SM beyond
    // its limit of 32 blocks, else one, so that a small batch still spreads over all SMs.
    const int P = G == 32 && p.batch >= 32LL * multiprocessors ? 4 : 1;
    const size_t bytes = Shared<G>::bytes(p.n, p.m) * P;
    auto kernel = lap_kernel<T, G, CPL>;
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
        SEMRSM_CUDA_CHECK_LAUNCH("lap_kernel");
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

void solve_batch(const DeviceLapBatch& p, int device, std::uintptr_t stream_handle) {
    if (p.n < 1 || p.m < p.n) throw std::invalid_argument("the GPU solver needs 1 <= n <= m");
    if (p.m > kMaxColumns)
        throw std::invalid_argument("the GPU solver takes at most " + std::to_string(kMaxColumns) +
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
