// Device detection for semrsm.backends(): never fails, reports why CUDA cannot run instead.
#include "device.h"

#include <cuda_runtime.h>

namespace semrsm::cuda {

DeviceReport probe_devices() {
    DeviceReport report;
    cudaRuntimeGetVersion(&report.runtime_version);
    cudaDriverGetVersion(&report.driver_version);
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        // With no driver at all the runtime says "insufficient driver"; say what is missing.
        report.error = report.driver_version == 0
                           ? "no NVIDIA driver found (libcuda.so is not installed or not loadable)"
                           : cudaGetErrorString(status);
        cudaGetLastError();  // clear the error so later calls start clean
        return report;
    }
    for (int d = 0; d < count; ++d) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) continue;
        report.devices.push_back(std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
                                 std::to_string(prop.minor) + ", " +
                                 std::to_string(prop.totalGlobalMem >> 20) + " MiB)");
    }
    if (report.devices.empty()) report.error = "no CUDA device found";
    return report;
}

}  // namespace semrsm::cuda
