// SPDX-License-Identifier: MIT
// How many rounds a storm runs: the full count under `make stress`
// (RESYNC_STRESS=1), a shortened one under `make check`.
#pragma once

#include <cstdlib>
#include <cstring>

namespace rt {

inline int rounds(int check, int stress)
{
	const char *s = std::getenv("RESYNC_STRESS");
	return s && std::strcmp(s, "1") == 0 ? stress : check;
}

} // namespace rt
