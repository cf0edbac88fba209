// SPDX-License-Identifier: MIT
// What the two targets' servers saw while one failback copied two disks at
// once, read from their nbdkit log filters (facts, not timings): writes in
// flight at both servers at the same moment, the bytes in flight at both
// together within the job's memory_limit, and the job's rate limit shared
// evenly, the two disks' bytes never far apart while both had work.
#include "harness.h"
#include <stdio.h>
#include <string.h>
#include <algorithm>
#include <map>
#include <sstream>
#include <utility>

namespace {

// One request as a server's log filter saw it: received (+1) or answered
// (-1), at a time in microseconds of the day.
struct Event {
	int64_t us;
	size_t server;
	int dir;
	uint64_t bytes;
};

// The Write requests of one server's log, in its order.
std::vector<Event> write_events(const std::string &log, size_t server)
{
	std::vector<Event> ev;
	std::map<std::pair<int, long>, uint64_t> open;
	std::istringstream in(log);
	std::string line;
	while (std::getline(in, line)) {
		int h, m, conn;
		double s;
		long id;
		unsigned long long count = 0;
		const char *p = strstr(line.c_str(), " connection=");
		if (!p || line.find("Write id=") == std::string::npos ||
		    sscanf(line.c_str(), "%*d-%*d-%*d %d:%d:%lf", &h, &m, &s) != 3)
			continue;
		int64_t us = ((int64_t)h * 3600 + m * 60) * 1000000 + (int64_t)(s * 1e6 + 0.5);
		if (sscanf(p, " connection=%d ...Write id=%ld", &conn, &id) == 2) {
			auto it = open.find({ conn, id });
			if (it == open.end())
				continue;
			ev.push_back({ us, server, -1, it->second });
			open.erase(it);
		} else if (sscanf(p, " connection=%d Write id=%ld offset=%*x count=%llx", &conn,
				  &id, &count) == 3) {
			open[{ conn, id }] = count;
			ev.push_back({ us, server, +1, count });
		}
	}
	return ev;
}

// Both servers' requests in one timeline; at equal times an answer comes
// before a receipt (the log's microseconds cannot order them: count the
// smaller overlap).
std::vector<Event> timeline(const std::vector<std::string> &logs)
{
	std::vector<Event> all;
	for (size_t i = 0; i < logs.size(); i++) {
		std::vector<Event> e = write_events(read_file(logs[i]), i);
		all.insert(all.end(), e.begin(), e.end());
	}
	std::stable_sort(all.begin(), all.end(), [](const Event &a, const Event &b) {
		return a.us != b.us ? a.us < b.us : a.dir < b.dir;
	});
	return all;
}

} // namespace

class ParallelDiskFacts : public CtlTest {
protected:
	void TearDown() override
	{
		CtlTest::TearDown();
		for (pid_t p : servers)
			stop_process(p);
	}

	// Two disks of size bytes, each target a zero file served by its own
	// nbdkit (log filter outermost, then delay per write).
	void make_vm(size_t size, const std::string &delay)
	{
		std::vector<std::string> vm = { "vm", "add", "vm" },
					 rp = { "recovery-point", "add", "vm", "rp" };
		for (int i = 0; i < 2; i++) {
			std::string d = "d" + std::to_string(i), t = path(d + "-target.img");
			std::string sock = path(d + ".sock");
			write_file(t, std::string(size, '\0'));
			targets.push_back(t);
			images.push_back(make_image(d + "-rp.img", size, 60 + i));
			logs.push_back(path(d + ".log"));
			pid_t p = start_nbdkit(sock, { "--filter=log", "--filter=delay", "file", t,
						       "logfile=" + logs.back(),
						       "delay-write=" + delay });
			ASSERT_GT(p, 0) << "nbdkit did not start";
			servers.push_back(p);
			vm.insert(vm.end(), { "--disk", d + "=nbd+unix:///?socket=" + sock });
			rp.insert(rp.end(), { "--disk", d + "=" + images.back() });
		}
		ASSERT_EQ(ctl(vm).rv, 0u);
		ASSERT_EQ(ctl(rp).rv, 0u);
		ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	}
	void failback(const std::string &settings)
	{
		CliRun r = ctl(
			{ "failback", "vm", "--settings", settings, "--wait", "--timeout", "300" });
		ASSERT_EQ(r.rv, 0u) << r.out << r.err;
		for (size_t i = 0; i < targets.size(); i++)
			EXPECT_EQ(read_file(targets[i]), read_file(images[i])) << "disk " << i;
	}

	std::vector<std::string> targets, images, logs;
	std::vector<pid_t> servers;
};

// Writes were in flight at both servers at once, again and again: the
// disks' requests interleave, not one disk's after the other's.
TEST_F(ParallelDiskFacts, BothServersHoldWritesAtOnce)
{
	ASSERT_NO_FATAL_FAILURE(make_vm(2 << 20, "20ms"));
	ASSERT_NO_FATAL_FAILURE(
		failback(R"({"change_source":"full","request_size":65536,"queue_depth":4})"));
	int inflight[2] = { 0, 0 };
	size_t both = 0, switches = 0, last = 2, received[2] = { 0, 0 };
	for (const Event &e : timeline(logs)) {
		inflight[e.server] += e.dir;
		if (e.dir > 0) {
			received[e.server]++;
			switches += last != 2 && last != e.server;
			last = e.server;
			both += inflight[0] > 0 && inflight[1] > 0;
		}
	}
	EXPECT_EQ(received[0], 32u);
	EXPECT_EQ(received[1], 32u);
	// One after the other would give no receipt with both busy and one
	// switch of server.
	EXPECT_GE(both, 16u);
	EXPECT_GE(switches, 8u);
}

// memory_limit is the job's: the requests in flight at both servers
// together never hold more than the limit (a copy holds one buffer per
// request; the engine counts two when comparing or verifying), and the
// requests shrink to fit a share before the depth does.
TEST_F(ParallelDiskFacts, BytesInFlightAtBothServersWithinMemoryLimit)
{
	const uint64_t limit = 1 << 20;
	ASSERT_NO_FATAL_FAILURE(make_vm(2 << 20, "10ms"));
	ASSERT_NO_FATAL_FAILURE(failback(R"({"change_source":"full","memory_limit":1048576,)"
					 R"("queue_depth":16,"request_size":1048576})"));
	uint64_t inflight = 0, most = 0, largest = 0;
	size_t n = 0;
	for (const Event &e : timeline(logs)) {
		inflight = e.dir > 0 ? inflight + e.bytes : inflight - e.bytes;
		most = std::max(most, inflight);
		largest = std::max(largest, e.bytes);
		n += e.dir > 0;
	}
	EXPECT_GT(n, 2u * 16) << "the copy did not make the smaller requests";
	EXPECT_EQ(largest, 65536u) << "requests did not shrink to a block first";
	EXPECT_LE(most, limit) << "largest " << largest << " requests " << n;
	EXPECT_GT(most, largest) << "never more than one request in flight";
}

// The job's rate limit is shared evenly: while both disks still have work,
// the bytes each server has received never differ by more than a few
// requests (one disk first would let them differ by a whole disk).
TEST_F(ParallelDiskFacts, RateLimitSharedEvenlyAtTheServers)
{
	const uint64_t size = 6 << 20, request = 65536;
	ASSERT_NO_FATAL_FAILURE(make_vm(size, "1ms"));
	ASSERT_NO_FATAL_FAILURE(failback(R"({"change_source":"full","rate_limit":4194304,)"
					 R"("request_size":65536,"queue_depth":4})"));
	uint64_t got[2] = { 0, 0 }, gap = 0;
	for (const Event &e : timeline(logs)) {
		if (e.dir < 0)
			continue;
		got[e.server] += e.bytes;
		if (got[0] >= size || got[1] >= size)
			break;
		gap = std::max(gap, got[0] > got[1] ? got[0] - got[1] : got[1] - got[0]);
	}
	EXPECT_LE(gap, 16 * request) << "one disk took the rate the other waited for";
}
