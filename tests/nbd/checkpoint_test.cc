// SPDX-License-Identifier: MIT
// Checkpoints onto an NBD target: the copy drains before it flushes the
// export, so a flush never runs beside the endpoint's asynchronous requests
// (it used to hang there), and a cancelled copy resumes to identical bytes.
#include <gtest/gtest.h>
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

} // namespace
