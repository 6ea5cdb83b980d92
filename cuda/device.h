// What the CUDA engine can see. Plain C++ so that bindings.cpp compiles without nvcc.
#pragma once

#include <string>
#include <vector>

namespace semrsm::cuda {

struct DeviceReport {
    int runtime_version = 0;      // CUDA runtime compiled in, e.g. 13000
    int driver_version = 0;       // 0 when no driver is installed
    std::vector<std::string> devices;  // "name (sm_XY, N MiB)"
    std::string error;            // why no device is usable, empty when one is
};

DeviceReport probe_devices();

}  // namespace semrsm::cuda
