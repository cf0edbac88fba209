// SPDX-License-Identifier: MIT
// Checkpoints onto an NBD target: the flush goes out beside the writes in
// flight (nbdkit's log filter shows it), each checkpoint retires only writes
// the server had answered before its flush, and a cancelled copy resumes to
// identical bytes.
#include <gtest/gtest.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>
#include <resync/resync.h>
#include "servers.h"

namespace {

class NbdCheckpoint : public nbdt::Images {};

constexpr uint64_t MiB = 1 << 20;

struct CancelAfter {
	resync *r;
	uint64_t bytes;
};

void cancel_after(const resync_stats *st, void *arg)
{
	auto *c = static_cast<CancelAfter *>(arg);
	if (st->bytes_done >= c->bytes)
		resync_cancel(c->r);
}

TEST_F(NbdCheckpoint, FrequentCheckpointsThenCancelAndResume)
{
	images(rt::random_bytes(64 * MiB, 31), rt::random_bytes(64 * MiB, 32));
	auto dst = nbdt::nbdkit(tmp, "dst", { "file", tgt });
	ASSERT_TRUE(dst->ok()) << dst->log();

	for (resync_mode mode : { RESYNC_COMPARE, RESYNC_FULL }) {
		resync *r = resync_new();
		CancelAfter c{ r, 24 * MiB };
		resync_set_source(r, src.c_str());
		resync_set_target(r, dst->uri().c_str());
		resync_set_mode(r, mode, nullptr);
		resync_set_rate_limit(r, 64 * MiB);
		resync_set_checkpoint(r, ck.c_str(), 20, 2 * MiB);
		resync_set_progress(r, cancel_after, &c, 5);
		ASSERT_EQ(resync_run(r), -ECANCELED) << resync_error(r);
		resync_stats first;
		resync_get_stats(r, &first);
		resync_free(r);
		EXPECT_GE(first.checkpoints, 4u);

		auto res = nbdt::copy(src, dst->uri(), mode, nullptr, [&](resync *h) {
			resync_set_checkpoint(h, ck.c_str(), 20, 2 * MiB);
		});
		ASSERT_EQ(res.ret, 0) << res.error;
		EXPECT_EQ(res.st.resumed, 1u);
		EXPECT_EQ(res.st.bytes_planned, 64 * MiB - first.bytes_done);
		EXPECT_EQ(nbdt::read_export(dst->uri()), data);
		rt::write_file(tgt, rt::random_bytes(64 * MiB, 33));
	}
}

// Each request nbdkit's log filter saw, in order: "Write" or "Flush" starts
// (the filter sits above the delay filter, so a write counts as running
// until its delayed reply), "...Write" ends.  At how many flushes did the
// server hold writes it had not yet answered?  A copy that drained before
// its checkpoint never sends a flush while a write is unanswered.
struct FlushLog {
	int flushes = 0, beside = 0;
};

FlushLog read_flush_log(const std::string &path)
{
	FlushLog f;
	std::set<std::string> running;
	std::ifstream in(path);
	std::string line;
	while (std::getline(in, line)) {
		std::istringstream ls(line);
		std::string w, conn, id;
		std::vector<std::string> words;
		while (ls >> w)
			words.push_back(w);
		for (size_t i = 0; i + 1 < words.size(); i++) {
			if (words[i].rfind("connection=", 0) == 0)
				conn = words[i];
			if (words[i + 1].rfind("id=", 0) == 0)
				id = conn + " " + words[i + 1];
			if (words[i] == "Write" && words[i + 1].rfind("id=", 0) == 0)
				running.insert(id);
			else if (words[i] == "...Write")
				running.erase(id);
			else if (words[i] == "Flush" && words[i + 1].rfind("id=", 0) == 0) {
				f.flushes++;
				f.beside += !running.empty();
			}
		}
	}
	return f;
}

// A checkpoint onto an NBD target does not drain the pipeline: its flush is
// sent while writes are still unanswered (every write waits 10 ms in
// nbdkit's delay filter, so a full pipeline always holds some), over one
// connection and over several (multi-conn: a flush on one covers the writes
// answered on all of them), and the copy ends identical.
TEST_F(NbdCheckpoint, FlushesBesideWritesInFlight)
{
	images(rt::random_bytes(16 * MiB, 35));
	for (unsigned conns : { 1u, 4u }) {
		std::string log = tmp.path("log" + std::to_string(conns));
		rt::write_file(tgt, rt::random_bytes(16 * MiB, 36));
		auto dst = nbdt::nbdkit(tmp, "dst",
					{ "--filter=log", "--filter=delay", "file", tgt,
					  "logfile=" + log, "delay-write=10ms" });
		ASSERT_TRUE(dst->ok()) << dst->log();
		auto res = nbdt::copy(src, dst->uri(), RESYNC_FULL, nullptr, [&](resync *h) {
			resync_set_checkpoint(h, ck.c_str(), 0, 1 * MiB);
			resync_set_queue_depth(h, 8);
			resync_set_request_size(h, 64 * 1024);
			resync_set_nbd_connections(h, conns);
		});
		ASSERT_EQ(res.ret, 0) << res.error;
		EXPECT_GE(res.st.checkpoints, 8u);
		EXPECT_EQ(nbdt::read_export(dst->uri()), data);
		dst->stop();
		FlushLog f = read_flush_log(log);
		EXPECT_GE(f.flushes, 8) << "connections " << conns;
		EXPECT_GT(f.beside, 0) << "connections " << conns
				       << ": every flush waited for the pipeline to drain";
	}
}

// Checkpoints by time alone never hold the pipeline back on an NBD target:
// the copy reports no time held for them (it used to drain before each
// flush), and the flushes' own time, spent beside the copy.  Each write
// waits 10 ms in nbdkit's delay filter, so 8 MiB in 64 KiB writes 8 at a
// time take at least 160 ms, eight checkpoint intervals of 20 ms.
TEST_F(NbdCheckpoint, IntervalCheckpointsNeverHoldThePipeline)
{
	images(rt::random_bytes(8 * MiB, 39), rt::random_bytes(8 * MiB, 40));
	auto dst = nbdt::nbdkit(tmp, "dst", { "--filter=delay", "file", tgt, "delay-write=10ms" });
	ASSERT_TRUE(dst->ok()) << dst->log();
	auto res = nbdt::copy(src, dst->uri(), RESYNC_FULL, nullptr, [&](resync *h) {
		resync_set_checkpoint(h, ck.c_str(), 20, 0);
		resync_set_queue_depth(h, 8);
		resync_set_request_size(h, 64 * 1024);
	});
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(nbdt::read_export(dst->uri()), data);
	EXPECT_GE(res.st.checkpoints, 3u);
	EXPECT_GT(res.st.checkpoint_flush_ns, 0u);
	EXPECT_EQ(res.st.checkpoint_hold_ns, 0u);
}

constexpr uint64_t Blk = 64 * 1024;

// What the server had answered by the time it took up its last answered
// flush, from nbdkit's log filter: a write's return line is logged before
// its reply goes out, and a flush's start line after it arrived, so a write
// whose reply the copy had when it issued that flush returned earlier in the
// log.  (A flush answered whose checkpoint the copy has not saved yet only
// widens the set: the check stays sound.)
std::set<uint64_t> answered_before_last_flush(const std::string &path)
{
	std::map<std::string, std::pair<uint64_t, uint64_t>> started;
	std::vector<std::pair<size_t, uint64_t>> returned; // line, block
	std::map<std::string, size_t> flush_start;
	size_t last_flush = 0, n = 0;
	std::ifstream in(path);
	std::string line;
	while (std::getline(in, line)) {
		n++;
		std::istringstream ls(line);
		std::vector<std::string> w;
		for (std::string x; ls >> x;)
			w.push_back(x);
		if (w.size() < 5 || w[2].rfind("connection=", 0))
			continue;
		std::string key = w[2] + " " + w[4];
		auto field = [&](const char *name) {
			for (auto &x : w)
				if (x.rfind(name, 0) == 0)
					return std::stoull(x.substr(strlen(name)), nullptr, 0);
			return 0ull;
		};
		bool ok = std::find(w.begin(), w.end(), "return=0") != w.end();
		if (w[3] == "Write")
			started[key] = { field("offset="), field("count=") };
		else if (w[3] == "...Write" && ok && started.count(key))
			for (uint64_t b = started[key].first / Blk,
				      e = (started[key].first + started[key].second) / Blk;
			     b < e; b++)
				returned.push_back({ n, b });
		else if (w[3] == "Flush")
			flush_start[key] = n;
		else if (w[3] == "...Flush" && ok && flush_start.count(key))
			last_flush = flush_start[key];
	}
	std::set<uint64_t> out;
	for (auto &[at, b] : returned)
		if (at < last_flush)
			out.insert(b);
	return out;
}

struct Watch {
	std::string ck, log;
	int checked = 0;
	std::vector<std::string> wrong;
};

// On the copy's thread, between its steps: every block the checkpoint on
// disk retired had its write answered before that checkpoint's flush.
void check_checkpoint(const resync_stats *st, void *arg)
{
	auto *w = static_cast<Watch *>(arg);
	resync_bitmap *b;
	if (!st->checkpoints || resync_bitmap_load(&b, w->ck.c_str()))
		return;
	std::set<uint64_t> planned;
	uint64_t off = 0, len;
	while (resync_bitmap_next(b, &off, &len) == 1) {
		for (uint64_t x = off; x < off + len; x += Blk)
			planned.insert(x / Blk);
		off += len;
	}
	uint64_t blocks = (resync_bitmap_device_size(b) + Blk - 1) / Blk;
	resync_bitmap_free(b);
	std::set<uint64_t> answered = answered_before_last_flush(w->log);
	w->checked++;
	for (uint64_t blk = 0; blk < blocks && w->wrong.size() < 5; blk++)
		if (!planned.count(blk) && !answered.count(blk))
			w->wrong.push_back("checkpoint " + std::to_string(st->checkpoints) +
					   " retired block " + std::to_string(blk) +
					   ", whose write was not answered before its flush");
}

// A checkpoint taken beside writes in flight retires only the blocks whose
// writes were answered before its flush was sent: each write waits 10 ms in
// nbdkit's delay filter and lands in its cache filter (writeback), whose
// flush writes the cached blocks through a 40 Mbit/s rate filter, so writes
// are answered while a flush runs, and a plan snapshotted at the flush's end
// rather than its start would retire them.  Checked at every progress report
// against the server's own log.
TEST_F(NbdCheckpoint, RetiresOnlyWritesAnsweredBeforeItsFlush)
{
	images(rt::random_bytes(8 * MiB, 37), rt::random_bytes(8 * MiB, 38));
	std::string log = tmp.path("log");
	auto dst = nbdt::nbdkit(tmp, "dst",
				{ "--filter=log", "--filter=delay", "--filter=cache",
				  "--filter=rate", "file", tgt, "logfile=" + log,
				  "delay-write=10ms", "cache=writeback", "rate=40M" });
	ASSERT_TRUE(dst->ok()) << dst->log();
	Watch w{ ck, log };
	auto res = nbdt::copy(src, dst->uri(), RESYNC_FULL, nullptr, [&](resync *h) {
		resync_set_checkpoint(h, ck.c_str(), 0, 512 * 1024);
		resync_set_block_size(h, Blk);
		resync_set_queue_depth(h, 8);
		resync_set_request_size(h, Blk);
		resync_set_nbd_connections(h, 2);
		resync_set_progress(h, check_checkpoint, &w, 1);
	});
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(nbdt::read_export(dst->uri()), data);
	EXPECT_GE(w.checked, 8);
	for (auto &m : w.wrong)
		ADD_FAILURE() << m;
}

} // namespace
