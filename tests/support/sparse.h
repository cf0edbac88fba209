// SPDX-License-Identifier: MIT
// Sparse files for the tests: their data extents (SEEK_DATA/SEEK_HOLE), a
// byte comparison of two files that reads only where either holds data (so
// a 1 TiB pair compares in the time of its data), and a command's peak RSS.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rt {

// [offset, offset + length) ranges of the file that hold data, in order.
std::vector<std::pair<uint64_t, uint64_t>> data_extents(const std::string &path);

// The first offset at which a and b differ (a hole reads as zeroes), the
// smaller size when only their sizes differ, UINT64_MAX when they are equal.
uint64_t first_difference(const std::string &a, const std::string &b);

// Runs argv (no shell, output discarded); *status gets the exit status (-1
// if it did not exit), the result is the child's peak RSS in KiB.
uint64_t peak_rss_kib(const std::vector<std::string> &argv, int *status);

} // namespace rt
