#include "engine/batch.h"

#include <exception>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "lap/auction.h"
#include "lap/exact.h"
#include "lap/greedy.h"
#include "lap/hybrid.h"
#include "lap/jv.h"

namespace semrsm {

Method parse_method(const std::string& name) {
    std::string known;
    for (const MethodName& entry : kMethodNames) {
        if (name == entry.name) return entry.method;
        known += std::string(known.empty() ? "'" : ", '") + entry.name + "'";
    }
    throw std::invalid_argument("unknown LAP method '" + name + "'; expected one of " + known);
}

namespace {
thread_local bool openmp_allowed = false;
}  // namespace

void allow_openmp_on_this_thread() { openmp_allowed = true; }

void parallel_for(int64_t count, int threads, const std::atomic<bool>& cancel,
                  const std::function<void(int64_t)>& body) {
    std::exception_ptr error;
    std::mutex error_lock;
    auto guarded = [&](int64_t k) {
        if (cancel_requested(&cancel)) return;
        try {
            body(k);
        } catch (...) {
            std::lock_guard<std::mutex> hold(error_lock);
            if (!error) error = std::current_exception();
        }
    };
    if (threads <= 1 || count <= 1 || !openmp_allowed) {
        for (int64_t k = 0; k < count; ++k) guarded(k);
    } else {
// Guided: large chunks first, single items at the end for balance. Handing out single items
// from the start interleaves neighbouring problems between threads, whose outputs then share
// cache lines: 2 threads ran 1.4x faster than one on 2000 problems of 49 x 49, now 2x.
#pragma omp parallel for schedule(guided) num_threads(threads)
        for (int64_t k = 0; k < count; ++k) guarded(k);
    }
    if (error) std::rethrow_exception(error);
}

namespace {

template <class T>
struct ThreadScratch {
    LapWorkspace lap;
    std::vector<T> work;  // the problem as solved: negated to maximise, scaled by a power of two
};

// The entry checks, one pass over the problem as given (before any negation). A min/max/or
// reduction under `omp simd`: without it GCC keeps the loop scalar (a floating-point min is not
// associative to it), and at n = 49 that scalar pass was a quarter of a solve's instructions.
// What the reductions do with a NaN does not matter: a NaN anywhere returns nan_cost. Writes the
// largest finite |c| to *largest (a second pass only where infinities hide it) and, where every
// entry has one sign, the smallest |c| to *same_sign_smallest (0 otherwise).
template <class T>
LapStatus check_entries(const T* problem, int64_t size, bool maximize, Method method, bool* forbidden,
                        double* largest, double* same_sign_smallest) {
    constexpr T inf = std::numeric_limits<T>::infinity();
    T lo = problem[0], hi = problem[0];
    int nans = 0;
#pragma omp simd reduction(min : lo) reduction(max : hi) reduction(| : nans)
    for (int64_t k = 0; k < size; ++k) {
        const T a = problem[k];
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
        nans |= a != a;
    }
    const bool pos_inf = hi == inf;
    const bool neg_inf = lo == -inf;
    *forbidden = maximize ? neg_inf : pos_inf;
    if (nans > 0) return LapStatus::nan_cost;
    if (maximize ? pos_inf : neg_inf) return LapStatus::invalid_infinity;
    if (*forbidden && (method == Method::auction || method == Method::greedy))
        return LapStatus::forbidden_unsupported;
    if (*forbidden) {
        T top = 0;
#pragma omp simd reduction(max : top)
        for (int64_t k = 0; k < size; ++k) {
            const T a = problem[k] < 0 ? -problem[k] : problem[k];
            top = a != inf && a > top ? a : top;
        }
        *largest = top;
    } else {
        *largest = std::max(-(double)lo, (double)hi);
    }
    *same_sign_smallest = lo > 0 ? (double)lo : hi < 0 ? -(double)hi : 0.0;
    return LapStatus::ok;
}

// Problems are solved multiplied by 2^scale_exponent(largest finite |c|): 0 for |c| up to 2^1000,
// where no difference of costs or potentials (a few times n times the range) can overflow, and down to
// 2^-960, where the auction's eps (above 2^-40 of the largest |c|, auction_schedule.h) is a normal
// number that moves prices, so that every phase ends. Beyond, the largest |c| is brought to
// [2^999, 2^1000) or [0.5, 1). The scaling is exact, and the optimal assignment that of the problem
// as given, except that scaling down flushes costs below 2^-1022 of the result; scaling further (to
// [2^-40, 2^40), say) would flush costs that decide optima: 1e-118 beside 1e300 did. Potentials and
// the bound are scaled back.
constexpr int kScaleDownAbove = 1000;
constexpr int kScaleUpBelow = -960;

int scale_exponent(double largest) {
    if (!(largest > 0.0)) return 0;
    int e;
    std::frexp(largest, &e);  // largest in [2^(e-1), 2^e)
    if (e > kScaleDownAbove) return kScaleDownAbove - e;
    if (e < kScaleUpBelow) return -e;
    return 0;
}

// x * 2^-e, rounded down where it is not exact (a result in the subnormal range): a lower bound stays one.
double unscale_down(double x, int e) {
    const double y = std::ldexp(x, -e);
    return std::ldexp(y, e) == x ? y : std::nextafter(y, -kInf);
}

template <class T>
void solve_one(const T* problem, int n, int m, const SolveOptions& options, int32_t* x, double* u,
               double* v, double* objective, double* bound, int8_t* status,
               const std::atomic<bool>& cancel) {
    thread_local ThreadScratch<T> scratch;
    // The working copy is kept between problems, except a large one: the engine thread lives as long
    // as the process and would hold it for good.
    struct ReleaseLargeCopy {
        std::vector<T>& copy;
        ~ReleaseLargeCopy() {
            if (copy.capacity() * sizeof(T) > (16u << 20)) std::vector<T>().swap(copy);
        }
    } release_large_copy{scratch.work};
    const int64_t size = (int64_t)n * m;
    bool forbidden = false;
    double largest = 0.0, same_sign_smallest = 0.0;
    LapStatus result = check_entries(problem, size, options.maximize, options.method, &forbidden, &largest,
                                     &same_sign_smallest);
    *status = (int8_t)result;
    if (result != LapStatus::ok) return;
    // Costs spanning more than 2^40 (auction_resolves) are solved as those with forbidden entries are:
    // shortest augmenting paths from v = 0, as scipy solves every problem. JV's column reduction would
    // set potentials at the scale of the largest column minima, and the auction prices at that of the
    // range, and beside either the small costs round away ([[0, 0, 0], [0, 0, 0], [1, 0, 1e20]] had
    // total 1; with one row of -1e20 among costs in [0, 1) JV lost to scipy on 138 of 150 problems).
    // (A pass of its own, in AVX2: folded into the entry checks it doubled their cost, 1.2x the time of
    // a solve at n = 784; skipped where every cost has one sign and the smallest |c| settles it.)
    const bool exact = options.method == Method::automatic || options.method == Method::jv ||
                       options.method == Method::hybrid;
    const double resolution = auction_eps_floor(-largest, largest);
    const bool plain_start = forbidden || (exact && !(same_sign_smallest >= resolution) &&
                                           any_nonzero_below(problem, size, resolution));
    const int exponent = scale_exponent(largest);
    const T* c = problem;
    if (options.maximize && exponent == 0) {
        // Negation is exact in floating point, so the minimum of -c is exactly minus the maximum.
        scratch.work.resize(size);
        for (int64_t k = 0; k < size; ++k) scratch.work[k] = -problem[k];
        c = scratch.work.data();
    } else if (exponent != 0) {
        scratch.work.resize(size);
        const int e = exponent;
        if (options.maximize)
            for (int64_t k = 0; k < size; ++k) scratch.work[k] = -std::ldexp(problem[k], e);
        else
            for (int64_t k = 0; k < size; ++k) scratch.work[k] = std::ldexp(problem[k], e);
        c = scratch.work.data();
    }
    const double eps = std::ldexp(options.eps, exponent);
    double lower = 0.0;
    switch (options.method) {
        case Method::automatic:
            result = solve_exact(c, n, m, plain_start, x, u, v, scratch.lap, &cancel);
            break;
        case Method::jv:
            result = solve_jv(c, n, m, plain_start, x, u, v, scratch.lap, &cancel);
            break;
        case Method::hybrid:
            result = solve_hybrid(c, n, m, plain_start, eps, x, u, v, scratch.lap, &cancel);
            break;
        case Method::auction: {
            const AuctionSchedule schedule = default_auction_schedule(c, n, m, eps);
            result = solve_auction(c, n, m, schedule, x, v, scratch.lap, &cancel);
            for (int i = 0; i < n; ++i) u[i] = row_minima(c + (int64_t)i * m, v, m).best;
            break;
        }
        case Method::greedy:
            solve_greedy(c, n, m, x, scratch.lap);
            for (int i = 0; i < n; ++i) u[i] = std::numeric_limits<double>::quiet_NaN();
            for (int j = 0; j < m; ++j) v[j] = std::numeric_limits<double>::quiet_NaN();
            lower = row_column_lower_bound(c, n, m);
            break;
    }
    *status = (int8_t)result;
    if (result != LapStatus::ok) return;
    if (options.method != Method::greedy) lower = dual_lower_bound(c, n, m, v, scratch.lap.d.data());
    // The objective from the costs as given, so that neither scaling nor negation can round it.
    *objective = assignment_cost(problem, n, m, x);
    if (exponent != 0) {
        lower = unscale_down(lower, exponent);
        for (int i = 0; i < n; ++i) u[i] = std::ldexp(u[i], -exponent);
        for (int j = 0; j < m; ++j) v[j] = std::ldexp(v[j], -exponent);
    }
    *bound = options.maximize ? -lower : lower;
    if (options.maximize) {
        for (int i = 0; i < n; ++i) u[i] = -u[i];
        for (int j = 0; j < m; ++j) v[j] = -v[j];
    }
}

}  // namespace

template <class T>
void solve_batch(const T* costs, int64_t batch, int n, int m, const SolveOptions& options,
                 const BatchOutput& out, const std::atomic<bool>& cancel) {
    if (n > m) throw std::invalid_argument("solve_batch needs n <= m");
    for (int64_t b = 0; b < batch; ++b) out.status[b] = (int8_t)LapStatus::cancelled;
    parallel_for(batch, options.threads, cancel, [&](int64_t b) {
        solve_one(costs + b * n * (int64_t)m, n, m, options, out.col + b * n, out.u + b * n,
                  out.v + b * m, out.objective + b, out.bound + b, out.status + b, cancel);
    });
}

template void solve_batch<float>(const float*, int64_t, int, int, const SolveOptions&,
                                 const BatchOutput&, const std::atomic<bool>&);
template void solve_batch<double>(const double*, int64_t, int, int, const SolveOptions&,
                                  const BatchOutput&, const std::atomic<bool>&);

}  // namespace semrsm
