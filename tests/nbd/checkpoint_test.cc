// SPDX-License-Identifier: MIT
// Checkpoints onto an NBD target: the flush goes out beside the writes in
// flight (nbdkit's log filter shows it), and a cancelled copy resumes to
// identical bytes.
#include <gtest/gtest.h>
#include <fstream>
#include <set>
#include <sstream>
#include <resync/resync.h>
#include "servers.h"

namespace {

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

TEST(NbdCheckpoint, FrequentCheckpointsThenCancelAndResume)
{
	rt::TempDir tmp;
	rt::Bytes data = rt::random_bytes(64 * MiB, 31);
	std::string src = tmp.path("rp.img"), tgt = tmp.path("tgt.img"), ck = tmp.path("ck");
	rt::write_file(src, data);
	rt::write_file(tgt, rt::random_bytes(64 * MiB, 32));
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
TEST(NbdCheckpoint, FlushesBesideWritesInFlight)
{
	rt::TempDir tmp;
	rt::Bytes data = rt::random_bytes(16 * MiB, 35);
	std::string src = tmp.path("rp.img"), tgt = tmp.path("tgt.img"), ck = tmp.path("ck");
	rt::write_file(src, data);
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

} // namespace
