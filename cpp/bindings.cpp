// The only pybind11 file: array checks at the boundary, GIL release, Ctrl-C polling.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include <pthread.h>

#include <omp.h>

#include "engine/batch.h"
#include "lap/common.h"
#include "lap/status.h"
#include "engine/semantic.h"
#ifdef SEMRSM_WITH_CUDA
#include "cuda_engine.h"
#include "device.h"
#endif

namespace py = pybind11;
using namespace semrsm;

namespace {

// Work below this many inner-loop steps (tens of milliseconds) runs on the calling thread, serially
// (engine/batch.h: no OpenMP there), rather than paying for the hand-over to the engine thread.
constexpr double kInlineWork = 5e7;

// One long-lived thread runs the engine's batches, the only thread with an OpenMP team, while the
// Python thread that asked polls for Ctrl-C. It lives from first use to the end of the process, so
// its team and per-thread scratch stay warm: a fresh thread per call paid up to 10 ms for a new team
// and cold scratch, a third of a batch of 2000 problems of 49 x 49. A forked child starts a new one
// (and with it a new team) on first use.
class EngineThread {
  public:
    static EngineThread& instance() {
        static std::mutex creating;
        std::lock_guard<std::mutex> hold(creating);
        static const int registered = pthread_atfork(nullptr, nullptr, [] { current = nullptr; });
        (void)registered;
        if (!current) current = new EngineThread();  // never deleted: it serves until exit
        return *current;
    }

    std::mutex busy;  // held by the caller for a whole job: one job at a time

    void start(std::function<void()> job) {
        std::lock_guard<std::mutex> hold(lock_);
        job_ = std::move(job);
        wake_.notify_one();
    }

  private:
    EngineThread() { std::thread([this] { loop(); }).detach(); }

    void loop() {
        allow_openmp_on_this_thread();
        std::unique_lock<std::mutex> hold(lock_);
        while (true) {
            wake_.wait(hold, [this] { return bool(job_); });
            std::function<void()> job = std::move(job_);
            job_ = nullptr;
            hold.unlock();
            job();
            hold.lock();
        }
    }

    static inline EngineThread* current = nullptr;
    std::mutex lock_;
    std::condition_variable wake_;
    std::function<void()> job_;
};

// The calling thread's own poll (lap/common.h): takes the GIL back and runs Python's signal handlers;
// true once one raised (KeyboardInterrupt is then set).
bool signal_raised(void*) {
    py::gil_scoped_acquire acquire;
    return PyErr_CheckSignals() != 0;
}

// Runs work(cancel) without the GIL on the engine thread while this thread polls for Ctrl-C every
// 50 ms; a signal raises `cancel`, waits for the work to wind down, and raises KeyboardInterrupt.
// Small work runs on this thread, which then polls from inside the work's own loops (cancel_requested).
template <class Work>
void run_interruptible(double expected_steps, Work&& work) {
    std::atomic<bool> cancel{false};
    if (expected_steps < kInlineWork) {
        CallingThreadPoll poll{&signal_raised, nullptr, &cancel,
                               std::chrono::steady_clock::now() + std::chrono::milliseconds(50)};
        {
            py::gil_scoped_release release;
            calling_thread_poll = &poll;
            struct Uninstall {
                ~Uninstall() { calling_thread_poll = nullptr; }
            } uninstall;
            work(cancel);
        }
        if (cancel.load()) throw py::error_already_set();
        return;
    }
    std::exception_ptr error;
    std::mutex lock;
    std::condition_variable finished;
    bool done = false;
    bool interrupted = false;
    {
        // Without the GIL before taking `busy`: a caller holding it needs the GIL to poll.
        py::gil_scoped_release release;
        EngineThread& engine = EngineThread::instance();
        std::lock_guard<std::mutex> one_job(engine.busy);
        engine.start([&] {
            try {
                work(cancel);
            } catch (...) {
                error = std::current_exception();
            }
            std::lock_guard<std::mutex> hold(lock);
            done = true;
            finished.notify_one();
        });
        std::unique_lock<std::mutex> hold(lock);
        while (!finished.wait_for(hold, std::chrono::milliseconds(50), [&] { return done; })) {
            if (interrupted) continue;
            hold.unlock();
            {
                py::gil_scoped_acquire acquire;
                if (PyErr_CheckSignals() != 0) {
                    interrupted = true;
                    cancel = true;
                }
            }
            hold.lock();
        }
    }
    if (interrupted) throw py::error_already_set();
    if (error) std::rethrow_exception(error);
}

template <class T>
py::tuple solve_typed(py::array_t<T, py::array::c_style> costs, bool maximize, const std::string& method,
                      double eps, int threads) {
    if (costs.ndim() != 3) throw py::value_error("costs must have shape (batch, n, m)");
    const int64_t batch = costs.shape(0);
    const int64_t n = costs.shape(1), m = costs.shape(2);
    if (n < 1 || n > m) throw py::value_error("the engine needs 1 <= n <= m; transpose wider problems");
    if (m > INT32_MAX) throw py::value_error("problems are limited to 2^31 - 1 columns");
    SolveOptions options;
    options.method = parse_method(method);
    options.maximize = maximize;
    options.eps = eps;
    options.threads = threads > 0 ? threads : omp_get_num_procs();

    py::array_t<int32_t> col({batch, n});
    py::array_t<double> objective(batch), bound(batch);
    py::array_t<double> u({batch, n}), v({batch, m});
    py::array_t<int8_t> status(batch);
    const BatchOutput out{col.mutable_data(), objective.mutable_data(), bound.mutable_data(),
                          u.mutable_data(), v.mutable_data(), status.mutable_data()};
    const T* data = costs.data();
    run_interruptible((double)batch * n * n * m, [&](const std::atomic<bool>& cancel) {
        solve_batch(data, batch, (int)n, (int)m, options, out, cancel);
    });
    return py::make_tuple(col, objective, bound, u, v, status);
}

py::dict cuda_report() {
    py::dict info;
#ifdef SEMRSM_WITH_CUDA
    const cuda::DeviceReport report = cuda::probe_devices();
    info["compiled"] = true;
    info["runtime_version"] = report.runtime_version;
    info["driver_version"] = report.driver_version;
    info["devices"] = report.devices;
    info["error"] = report.error;
#else
    info["compiled"] = false;
    info["runtime_version"] = 0;
    info["driver_version"] = 0;
    info["devices"] = py::list();
    info["error"] = "semrsm was built without CUDA (no nvcc found, or SEMRSM_CUDA=OFF)";
#endif
    return info;
}

// --- semantic RSM engine ---
template <class T>
py::tuple semantic_pairs_typed(py::array_t<T, py::array::c_style> x, py::array_t<T, py::array::c_style> y,
                               py::array_t<int64_t, py::array::c_style> pair_i,
                               py::array_t<int64_t, py::array::c_style> pair_j,
                               py::array_t<int32_t, py::array::c_style> order_x,
                               py::array_t<int32_t, py::array::c_style> order_y,
                               py::array_t<double, py::array::c_style> sorted_norms_x,
                               py::array_t<double, py::array::c_style> sorted_norms_y,
                               const std::string& matcher, int window, bool partial_largest, int topk,
                               bool want_perm, bool want_bound, int threads) {
    if (x.ndim() != 3 || y.ndim() != 3) throw py::value_error("x and y must have shape (samples, S, C)");
    const int64_t S = x.shape(1), C = x.shape(2);
    if (y.shape(1) != S || y.shape(2) != C) throw py::value_error("x and y differ in S or C");
    if (S > INT32_MAX || C > INT32_MAX) throw py::value_error("S and C are limited to 2^31 - 1");
    auto same_shape = [](const py::array& a, int64_t rows, int64_t cols) {
        return a.ndim() == 2 && a.shape(0) == rows && a.shape(1) == cols;
    };
    if (!same_shape(order_x, x.shape(0), S) || !same_shape(sorted_norms_x, x.shape(0), S) ||
        !same_shape(order_y, y.shape(0), S) || !same_shape(sorted_norms_y, y.shape(0), S))
        throw py::value_error("orders and sorted norms must have shape (samples, S)");
    const int64_t count = pair_i.size();
    if (pair_j.size() != count) throw py::value_error("pair_i and pair_j differ in length");
    for (int64_t k = 0; k < count; ++k) {
        if (pair_i.data()[k] < 0 || pair_i.data()[k] >= x.shape(0) || pair_j.data()[k] < 0 ||
            pair_j.data()[k] >= y.shape(0))
            throw py::value_error("pair index out of range");
    }
    if (window < 1) throw py::value_error("window must be at least 1");
    if (topk < 0) throw py::value_error("topk must not be negative");
    PairOptions options;
    options.matcher = parse_matcher(matcher);
    options.window = window;
    options.partial_largest = partial_largest;
    options.topk = topk;
    options.threads = threads > 0 ? threads : omp_get_num_procs();
    const PairData<T> data{x.data(), y.data(), (int)S, (int)C, order_x.data(), order_y.data(),
                           sorted_norms_x.data(), sorted_norms_y.data()};
    py::array_t<double> objective(count);
    py::array_t<int8_t> status(count);
    py::object bound = py::none();
    double* upper = nullptr;
    if (want_bound) {
        py::array_t<double> b(count);
        upper = b.mutable_data();
        bound = b;
    }
    py::object perm = py::none();
    int32_t* perm_data = nullptr;
    if (want_perm) {
        py::array_t<int32_t> p({count, S});
        perm_data = p.mutable_data();
        perm = p;
    }
    double* obj = objective.mutable_data();
    int8_t* st = status.mutable_data();
    const int64_t* pi = pair_i.data();
    const int64_t* pj = pair_j.data();
    run_interruptible((double)count * S * S * C, [&](const std::atomic<bool>& cancel) {
        semantic_pairs(data, pi, pj, count, options, obj, upper, perm_data, st, cancel);
    });
    return py::make_tuple(objective, bound, perm, status);
}

template <class T>
py::array_t<T> negated_cost_blocks_typed(py::array_t<T, py::array::c_style> a,
                                         py::array_t<T, py::array::c_style> b, int threads, int isa) {
    if (a.ndim() != 3 || b.ndim() != 3 || a.shape(0) != b.shape(0) || a.shape(2) != b.shape(2))
        throw py::value_error("a and b must have shapes (B, n, K) and (B, m, K)");
    const int64_t batch = a.shape(0), n = a.shape(1), m = b.shape(1), K = a.shape(2);
    py::array_t<T> out({batch, n, m});
    T* o = out.mutable_data();
    const T* pa = a.data();
    const T* pb = b.data();
    const int t = threads > 0 ? threads : omp_get_num_procs();
    run_interruptible((double)batch * n * m * K, [&](const std::atomic<bool>& cancel) {
        negated_cost_blocks(pa, pb, batch, (int)n, (int)m, (int)K, o, t, isa, cancel);
    });
    return out;
}
// --- end semantic RSM engine ---

// --- CUDA engine ---
#ifdef SEMRSM_WITH_CUDA
// Device pointers and streams arrive as integers from python/semrsm/lap/_cuda.py and semantic/_cuda.py (CuPy's .data.ptr and
// stream .ptr); the functions only enqueue work, so the GIL is released for the launch alone.
void cuda_solve_batch(std::uintptr_t costs, bool is_double, int64_t batch, int n, int m, bool maximize,
                      bool auction_only, double auction_eps, std::uintptr_t col, std::uintptr_t objective,
                      std::uintptr_t bound, std::uintptr_t u, std::uintptr_t v, std::uintptr_t status, int device,
                      std::uintptr_t stream) {
    cuda::DeviceLapBatch p;
    p.costs = costs;
    p.is_double = is_double;
    p.batch = batch;
    p.n = n;
    p.m = m;
    p.maximize = maximize;
    p.auction_only = auction_only;
    p.auction_eps = auction_eps;
    p.col = col;
    p.objective = objective;
    p.bound = bound;
    p.u = u;
    p.v = v;
    p.status = status;
    py::gil_scoped_release release;
    cuda::solve_batch(p, device, stream);
}

void cuda_pair_blocks(std::uintptr_t x, int64_t samples, int s, int c, std::uintptr_t pairs, int64_t count,
                      std::uintptr_t out, bool tf32, int device, std::uintptr_t stream) {
    py::gil_scoped_release release;
    cuda::pair_cost_blocks(x, samples, s, c, pairs, count, out, tf32, device, stream);
}
#endif
// --- end CUDA engine ---

}  // namespace

PYBIND11_MODULE(_core, module) {
    module.doc() = "semrsm's compiled engine; use the functions of the semrsm package instead";
    module.attr("__version__") = SEMRSM_VERSION;
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const std::invalid_argument& e) {
            PyErr_SetString(PyExc_ValueError, e.what());
        }
    });
    // Names and codes Python reads instead of spelling them again.
    py::dict statuses;
    for (const LapStatusName& entry : kLapStatusNames) statuses[entry.name] = (int)entry.status;
    module.attr("LAP_STATUS") = statuses;
    py::list methods, matchers;
    for (const MethodName& entry : kMethodNames) methods.append(entry.name);
    for (const MatcherName& entry : kMatcherNames) matchers.append(entry.name);
    module.attr("LAP_METHODS") = py::tuple(methods);
    module.attr("MATCHERS") = py::tuple(matchers);
    module.attr("NEAR_EXACT_GAP") = kNearExactGap;
    py::dict aliases;
    for (const MatcherName& alias : kMatcherAliases)
        for (const MatcherName& entry : kMatcherNames)
            if (entry.matcher == alias.matcher) aliases[alias.name] = entry.name;
    module.attr("MATCHER_ALIASES") = aliases;
    module.def("solve_batch", &solve_typed<float>, py::arg("costs").noconvert(), py::arg("maximize"),
               py::arg("method"), py::arg("eps"), py::arg("threads"));
    module.def("solve_batch", &solve_typed<double>, py::arg("costs").noconvert(), py::arg("maximize"),
               py::arg("method"), py::arg("eps"), py::arg("threads"));
    module.def("cpu_count", &omp_get_num_procs);
    module.def("cuda_report", &cuda_report);
    module.def("semantic_pairs", &semantic_pairs_typed<float>, py::arg("x").noconvert(), py::arg("y").noconvert(),
               py::arg("pair_i"), py::arg("pair_j"), py::arg("order_x"), py::arg("order_y"),
               py::arg("sorted_norms_x"), py::arg("sorted_norms_y"), py::arg("matcher"), py::arg("window"),
               py::arg("partial_largest"), py::arg("topk"), py::arg("want_perm"), py::arg("want_bound"),
               py::arg("threads"));
    module.def("semantic_pairs", &semantic_pairs_typed<double>, py::arg("x").noconvert(), py::arg("y").noconvert(),
               py::arg("pair_i"), py::arg("pair_j"), py::arg("order_x"), py::arg("order_y"),
               py::arg("sorted_norms_x"), py::arg("sorted_norms_y"), py::arg("matcher"), py::arg("window"),
               py::arg("partial_largest"), py::arg("topk"), py::arg("want_perm"), py::arg("want_bound"),
               py::arg("threads"));
    module.def("negated_cost_blocks", &negated_cost_blocks_typed<float>, py::arg("a").noconvert(),
               py::arg("b").noconvert(), py::arg("threads"), py::arg("isa") = 0);
    module.def("negated_cost_blocks", &negated_cost_blocks_typed<double>, py::arg("a").noconvert(),
               py::arg("b").noconvert(), py::arg("threads"), py::arg("isa") = 0);
#ifdef SEMRSM_WITH_CUDA
    module.attr("CUDA_MAX_COLUMNS") = cuda::kMaxColumns;
    module.def("cuda_solve_batch", &cuda_solve_batch, py::arg("costs"), py::arg("is_double"), py::arg("batch"),
               py::arg("n"), py::arg("m"), py::arg("maximize"), py::arg("auction_only"), py::arg("auction_eps"),
               py::arg("col"), py::arg("objective"), py::arg("bound"), py::arg("u"), py::arg("v"),
               py::arg("status"), py::arg("device"), py::arg("stream"));
    module.def("cuda_pair_blocks", &cuda_pair_blocks, py::arg("x"), py::arg("samples"), py::arg("s"), py::arg("c"),
               py::arg("pairs"), py::arg("count"), py::arg("out"), py::arg("tf32"), py::arg("device"),
               py::arg("stream"));
#endif
}
