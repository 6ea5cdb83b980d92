// The batched driver: many independent LAPs solved in parallel over problems, with cancellation.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace semrsm {

// `automatic` ("auto", the default) is exact: jv or hybrid, chosen per problem (lap/exact.h).
enum class Method { automatic, jv, hybrid, auction, greedy };

struct MethodName {
    const char* name;
    Method method;
};

// The names Python passes (and exports as semrsm.lap.METHODS, in this order).
inline constexpr MethodName kMethodNames[] = {
    {"auto", Method::automatic}, {"jv", Method::jv}, {"hybrid", Method::hybrid},
    {"auction", Method::auction}, {"greedy", Method::greedy},
};

Method parse_method(const std::string& name);  // throws std::invalid_argument

struct SolveOptions {
    Method method = Method::automatic;
    bool maximize = false;
    double eps = 0.0;  // auction: final epsilon; hybrid: epsilon where the auction hands over; 0 = default
    int threads = 1;
};

// Output arrays of a batch of B problems of shape n x m (n <= m), all preallocated by the caller.
struct BatchOutput {
    int32_t* col;       // B x n: column assigned to each row
    double* objective;  // B: sum of the assigned costs, in float64
    double* bound;      // B: lower bound on the optimum (upper bound when maximising)
    double* u;          // B x n: row potentials (NaN for greedy)
    double* v;          // B x m: column potentials (NaN for greedy)
    int8_t* status;     // B: LapStatus
};

// Solves every problem of `costs` (B x n x m, row-major). Thread-safe; problems are independent, so
// the result does not depend on the number of threads. Sets no status once `cancel` is raised.
template <class T>
void solve_batch(const T* costs, int64_t batch, int n, int m, const SolveOptions& options,
                 const BatchOutput& out, const std::atomic<bool>& cancel);

// OpenMP runs only on threads that opted in (the bindings' engine thread): libgomp's thread pool does
// not survive fork(), and a forked child whose parent ran a parallel region on the forking thread
// hangs in its next one (GCC bug 60035). Elsewhere parallel_for runs serially.
void allow_openmp_on_this_thread();

// Runs body(k) for k in [0, count) on `threads` OpenMP threads (guided schedule), skipping the rest
// once `cancel` is raised. The first exception thrown by a body is rethrown after the loop.
void parallel_for(int64_t count, int threads, const std::atomic<bool>& cancel,
                  const std::function<void(int64_t)>& body);

}  // namespace semrsm
