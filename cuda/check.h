// Error checking for the CUDA engine (CUDA code only; bindings.cpp never includes this).
//
// Every runtime call and kernel launch goes through SEMRSM_CUDA_CHECK: a failure throws
// semrsm::cuda::CudaError carrying the call and the CUDA error text, which the bindings turn into a
// Python RuntimeError. Nothing asserts on the device: problems a kernel cannot solve are reported
// through status arrays.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace semrsm::cuda {

struct CudaError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline void check(cudaError_t status, const char* what, const char* file, int line) {
    if (status == cudaSuccess) return;
    cudaGetLastError();  // clear a non-sticky error so the next call starts clean
    throw CudaError(std::string("CUDA error in ") + what + " (" + file + ":" + std::to_string(line) +
                    "): " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status));
}

// Makes `device` current for a scope and restores the caller's device after it, so that a call on
// data of another GPU does not change which device CuPy and the caller work on.
class DeviceScope {
  public:
    explicit DeviceScope(int device) {
        check(cudaGetDevice(&previous_), "cudaGetDevice", __FILE__, __LINE__);
        check(cudaSetDevice(device), "cudaSetDevice", __FILE__, __LINE__);
    }
    ~DeviceScope() { cudaSetDevice(previous_); }
    DeviceScope(const DeviceScope&) = delete;
    DeviceScope& operator=(const DeviceScope&) = delete;

  private:
    int previous_ = 0;
};

}  // namespace semrsm::cuda

#define SEMRSM_CUDA_CHECK(call) ::semrsm::cuda::check((call), #call, __FILE__, __LINE__)
// After a <<<...>>> launch: configuration errors show up here, faults at the next synchronisation.
#define SEMRSM_CUDA_CHECK_LAUNCH(name) ::semrsm::cuda::check(cudaGetLastError(), name, __FILE__, __LINE__)
