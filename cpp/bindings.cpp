// The only pybind11 file: array checks at the boundary, GIL release, Ctrl-C polling.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include <omp.h>

#include "engine.h"
#ifdef SEMRSM_WITH_CUDA
#include "device.h"
#endif

namespace py = pybind11;
using namespace semrsm;

namespace {

// Work below this many inner-loop steps finishes in milliseconds: run it on the calling thread
// rather than pay for a watcher thread.
constexpr double kInlineWork = 5e7;

// Runs work(cancel) without the GIL on a worker thread while this thread polls for Ctrl-C every
// 50 ms; a signal raises `cancel`, waits for the worker to wind down, and raises KeyboardInterrupt.
template <class Work>
void run_interruptible(double expected_steps, Work&& work) {
    std::atomic<bool> cancel{false};
    if (expected_steps < kInlineWork) {
        py::gil_scoped_release release;
        work(cancel);
        return;
    }
    std::exception_ptr error;
    std::mutex lock;
    std::condition_variable finished;
    bool done = false;
    bool interrupted = false;
    {
        py::gil_scoped_release release;
        std::thread worker([&] {
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
        hold.unlock();
        worker.join();
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
    if (n > m) throw py::value_error("the engine needs n <= m; transpose wider problems");
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
    module.def("solve_batch", &solve_typed<float>, py::arg("costs").noconvert(), py::arg("maximize"),
               py::arg("method"), py::arg("eps"), py::arg("threads"));
    module.def("solve_batch", &solve_typed<double>, py::arg("costs").noconvert(), py::arg("maximize"),
               py::arg("method"), py::arg("eps"), py::arg("threads"));
    module.def("cpu_count", &omp_get_num_procs);
    module.def("cuda_report", &cuda_report);
}
