// What a solve reports per problem: one enum for the CPU and the GPU engines, exported to Python by
// name (bindings.cpp, `_core.LAP_STATUS`), so that no other file spells the numbers. Free of
// host-only code so that nvcc compiles it into device code (cuda/engine/batch.cu writes these codes).
#pragma once

#include <cstdint>

namespace semrsm {

// Statuses after `cancelled` are the engine's entry checks, made while it reads each problem anyway.
enum class LapStatus : int8_t {
    ok = 0,
    infeasible = 1,       // forbidden (+inf) entries leave no complete assignment
    cancelled = 2,
    nan_cost = 3,         // a NaN entry
    invalid_infinity = 4, // -inf in a minimisation (+inf in a maximisation)
    forbidden_unsupported = 5,  // a forbidden entry given to a method that cannot handle it
};

struct LapStatusName {
    const char* name;
    LapStatus status;
};

inline constexpr LapStatusName kLapStatusNames[] = {
    {"ok", LapStatus::ok},
    {"infeasible", LapStatus::infeasible},
    {"cancelled", LapStatus::cancelled},
    {"nan_cost", LapStatus::nan_cost},
    {"invalid_infinity", LapStatus::invalid_infinity},
    {"forbidden_unsupported", LapStatus::forbidden_unsupported},
};

}  // namespace semrsm
