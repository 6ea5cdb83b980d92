// Pieces every LAP solver shares: the problem convention, statuses, scratch space and the dual bound.
//
// Convention: a problem is a dense row-major n x m cost matrix, n <= m, to be *minimised*; every row
// is assigned a distinct column. Maximisation and n > m are reduced to this by the engine and the
// Python layer. Costs are float or double; potentials and objectives accumulate in double.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "lap/status.h"

namespace semrsm {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Scratch arrays reused across problems by one thread, so that a batch of small problems does not
// allocate per problem.
struct LapWorkspace {
    std::vector<double> d;           // shortest path lengths; scratch of the other steps
    std::vector<double> pred;        // row before each column on the path tree (a double, see sap.h)
    std::vector<uint64_t> settled;   // all ones for columns whose distance is final, else 0
    std::vector<uint64_t> free_mask; // all ones for columns no row holds, else 0
    std::vector<int32_t> cols;       // settled columns in order; scratch of the other steps
    std::vector<int32_t> row4col;    // y: the row assigned to each column, -1 if none
    std::vector<int32_t> free_rows;  // rows still to be assigned

    void reserve(int n, int m) {
        if ((int)d.size() < m) {
            d.resize(m); pred.resize(m); settled.resize(m); free_mask.resize(m);
            cols.resize(m); row4col.resize(m);
        }
        if ((int)free_rows.size() < std::max(n, m)) free_rows.resize(std::max(n, m));
    }
};

// The sum of the assigned costs, accumulated in long double (on x86-64 a 64-bit significand and a
// 15-bit exponent): assigned costs near the float64 maximum whose total lies in range (4.38e307)
// sum without an intermediate overflow, and the total is rounded to float64 once.
template <class T>
double assignment_cost(const T* c, int n, int m, const int32_t* col4row) {
    long double total = 0.0L;
    for (int i = 0; i < n; ++i) total += (long double)c[(int64_t)i * m + col4row[i]];
    return (double)total;
}

// Cancellation. Work on the engine thread stops when the calling thread raises `cancel` (on Ctrl-C,
// cpp/bindings.cpp). Work that runs on the calling thread itself has no one to raise it, so it installs
// a CallingThreadPoll: every 16th poll there reads the clock, and every 50 ms `interrupted` is asked
// (the bindings look for a signal, with the GIL taken back), which raises `cancel` when it says so.
struct CallingThreadPoll {
    bool (*interrupted)(void* context);
    void* context;
    std::atomic<bool>* cancel;
    std::chrono::steady_clock::time_point next;
    unsigned polls = 0;
};

inline thread_local CallingThreadPoll* calling_thread_poll = nullptr;

// What every long loop asks, between units of work of at most a few milliseconds.
inline bool cancel_requested(const std::atomic<bool>* cancel) {
    if (!cancel) return false;
    if (cancel->load(std::memory_order_relaxed)) return true;
    CallingThreadPoll* poll = calling_thread_poll;
    if (!poll || (++poll->polls & 15) != 0) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now < poll->next) return false;
    poll->next = now + std::chrono::milliseconds(50);
    if (!poll->interrupted(poll->context)) return false;
    poll->cancel->store(true, std::memory_order_relaxed);
    return true;
}

}  // namespace semrsm
