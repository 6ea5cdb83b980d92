// Pieces every LAP solver shares: the problem convention, statuses, scratch space and the dual bound.
//
// Convention: a problem is a dense row-major n x m cost matrix, n <= m, to be *minimised*; every row
// is assigned a distinct column. Maximisation and n > m are reduced to this by the engine and the
// Python layer. Costs are float or double; potentials and objectives accumulate in double.
#pragma once

#include <algorithm>
#include <atomic>
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

template <class T>
double assignment_cost(const T* c, int n, int m, const int32_t* col4row) {
    double total = 0.0;
    for (int i = 0; i < n; ++i) total += (double)c[(int64_t)i * m + col4row[i]];
    return total;
}

}  // namespace semrsm
