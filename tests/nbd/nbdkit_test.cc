// SPDX-License-Identifier: MIT
// nbdkit exports as sources and targets: memory and file plugins, one or
// several connections, zero requests (native, fast, emulated), injected
// errors, TLS with a PSK, and the chunked allocation query.
#include <gtest/gtest.h>
#include <fstream>
#include <unistd.h>
#include <resync/resync.h>
#include "servers.h"

namespace {

constexpr uint64_t MiB = 1 << 20, KiB = 1 << 10;

// Random data with a zero run in the middle and a zero tail, so copies
// exercise both data and zero requests.
rt::Bytes mixed_content(uint64_t size, uint64_t seed)
{
	rt::Bytes b = rt::random_bytes(size, seed);
	std::fill(b.begin() + size / 4, b.begin() + size / 2, 0);
	std::fill(b.end() - size / 8, b.end(), 0);
	return b;
}

class Nbdkit : public ::testing::Test {
protected:
	// An nbdkit file export over a new file holding data.
	std::unique_ptr<nbdt::Server> file_export(const std::string &name, const rt::Bytes &data,
						  std::vector<std::string> extra = {})
	{
		std::string f = tmp_.path(name + ".img");
		rt::write_file(f, data);
		extra.push_back("file");
		extra.push_back(f);
		auto s = nbdt::nbdkit(tmp_, name, extra);
		EXPECT_TRUE(s->ok()) << s->log();
		return s;
	}
	// An nbdkit memory export loaded with data; filters go before the
	// plugin, params (the filters' too) after it.
	std::unique_ptr<nbdt::Server> memory_export(const std::string &name, const rt::Bytes &data,
						    std::vector<std::string> filters = {},
						    const std::vector<std::string> &params = {})
	{
		filters.push_back("memory");
		filters.push_back(std::to_string(data.size()));
		filters.insert(filters.end(), params.begin(), params.end());
		auto s = nbdt::nbdkit(tmp_, name, filters);
		EXPECT_TRUE(s->ok()) << s->log();
		std::string f = tmp_.path(name + ".load");
		rt::write_file(f, data);
		EXPECT_EQ(nbdt::run({ "nbdcopy", f, s->uri() }), 0);
		return s;
	}

	rt::TempDir tmp_;
};

class Connections : public Nbdkit, public ::testing::WithParamInterface<unsigned> {};

TEST_P(Connections, MemoryToMemoryIsIdentical)
{
	rt::Bytes data = mixed_content(16 * MiB, 1);
	auto src = memory_export("src", data);
	auto dst = memory_export("dst", rt::random_bytes(16 * MiB, 2));
	auto res = nbdt::copy(src->uri(), dst->uri(), RESYNC_FULL, nullptr,
			      [&](resync *r) { resync_set_nbd_connections(r, GetParam()); });
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(nbdt::read_export(dst->uri()), data);
	// The zero runs are known from base:allocation and never read.
	EXPECT_EQ(res.st.bytes_zeroed, 16 * MiB / 4 + 16 * MiB / 8);
	EXPECT_EQ(res.st.bytes_read, 16 * MiB - res.st.bytes_zeroed);
}

INSTANTIATE_TEST_SUITE_P(Nbd, Connections, ::testing::Values(1u, 4u, 16u));

// Plan blocks above the preferred NBD request size still go out whole.
TEST_F(Nbdkit, LargeBlocksAreSentWhole)
{
	rt::Bytes data = rt::random_bytes(8 * MiB, 16);
	auto src = memory_export("src", data);
	auto dst = memory_export("dst", rt::Bytes(8 * MiB, 0x66));
	auto res = nbdt::copy(src->uri(), dst->uri(), RESYNC_FULL, nullptr,
			      [](resync *r) { resync_set_block_size(r, 2 << 20); });
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(nbdt::read_export(dst->uri()), data);
}

// Multi-conn advertised, but the server takes one client: one connection it is.
TEST_F(Nbdkit, ConnectionLimitIsNotAnError)
{
	rt::Bytes data = mixed_content(4 * MiB, 13);
	auto src = memory_export("src", data);
	auto dst = nbdt::nbdkit(tmp_, "dst", { "--filter=limit", "memory", "4M", "limit=1" });
	ASSERT_TRUE(dst->ok()) << dst->log();
	auto res = nbdt::copy(src->uri(), dst->uri(), RESYNC_FULL, nullptr,
			      [](resync *r) { resync_set_nbd_connections(r, 4); });
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(res.error, "");
	EXPECT_EQ(nbdt::read_export(dst->uri()), data);
}

TEST_F(Nbdkit, FileExportToRawFileAndBack)
{
	rt::Bytes data = mixed_content(4 * MiB + 4096, 3);
	auto src = file_export("src", data);
	std::string raw = tmp_.path("raw.img");
	rt::write_file(raw, rt::random_bytes(data.size(), 4));
	auto res = nbdt::copy(src->uri(), raw);
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(rt::read_file(raw), data);

	auto dst = file_export("dst", rt::random_bytes(data.size(), 5));
	res = nbdt::copy(raw, dst->uri(), RESYNC_FULL, nullptr,
			 [](resync *r) { resync_set_flags(r, RESYNC_F_VERIFY); });
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(nbdt::read_export(dst->uri()), data);
}

// Without write-zeroes on the target, zero ranges are written as data.
TEST_F(Nbdkit, ZeroesAreWrittenWhenTheTargetCannotZero)
{
	rt::Bytes data = mixed_content(8 * MiB, 6);
	auto src = memory_export("src", data);
	auto dst = file_export("dst", rt::Bytes(8 * MiB, 0xff), { "--filter=nozero" });
	auto res = nbdt::copy(src->uri(), dst->uri());
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(nbdt::read_export(dst->uri()), data);
	EXPECT_EQ(res.st.bytes_zeroed, 8 * MiB / 4 + 8 * MiB / 8);
}

// The zero requests an nbdkit log shows, as "trim=N fast=N" plus the result.
std::vector<std::string> zero_requests(const std::string &log)
{
	std::ifstream in(log);
	std::vector<std::string> out;
	std::string line;
	while (std::getline(in, line)) {
		auto at = line.find(" Zero id=");
		if (at != std::string::npos)
			out.push_back(line.substr(line.find("trim=")));
		else if (line.find("...Zero id=") != std::string::npos)
			out.back() += line.find("return=0") != std::string::npos ? " ok" :
										   " failed";
	}
	return out;
}

// Without the user's leave zeroing keeps allocation (NO_HOLE, "trim=0").
TEST_F(Nbdkit, ZeroKeepsAllocationUnlessTrimIsAllowed)
{
	for (bool trim : { false, true }) {
		rt::TempDir tmp;
		rt::Bytes data = mixed_content(8 * MiB, 7);
		auto src = memory_export(trim ? "src-trim" : "src", data);
		std::string log = tmp.path("dst.log");
		std::string f = tmp.path("dst.img");
		rt::write_file(f, rt::Bytes(8 * MiB, 0x11));
		auto dst =
			nbdt::nbdkit(tmp, "dst", { "--filter=log", "file", f, "logfile=" + log });
		ASSERT_TRUE(dst->ok()) << dst->log();
		auto res = nbdt::copy(src->uri(), dst->uri(), RESYNC_FULL, nullptr, [&](resync *r) {
			resync_set_flags(r, trim ? RESYNC_F_ALLOW_TRIM : 0);
		});
		ASSERT_EQ(res.ret, 0) << res.error;
		EXPECT_EQ(nbdt::read_export(dst->uri()), data);
		auto zeroes = zero_requests(log);
		ASSERT_FALSE(zeroes.empty());
		for (const auto &z : zeroes)
			EXPECT_EQ(z.rfind(trim ? "trim=1" : "trim=0", 0), 0u) << z;
	}
}

// A long zero run goes out in pieces of at most 32 MiB, so a server zeroing
// slowly keeps replying.
TEST_F(Nbdkit, LongZeroRunIsSentInPieces)
{
	rt::Bytes data(80 * MiB, 0);
	rt::Bytes head = rt::random_bytes(1 * MiB, 14);
	std::copy(head.begin(), head.end(), data.begin());
	std::string srcf = tmp_.path("src.img");
	rt::write_file(srcf, head);
	ASSERT_EQ(truncate(srcf.c_str(), (off_t)data.size()), 0);
	std::string log = tmp_.path("dst.log"), dstf = tmp_.path("dst.img");
	rt::write_file(dstf, rt::random_bytes(80 * MiB, 15));
	auto dst = nbdt::nbdkit(tmp_, "dst", { "--filter=log", "file", dstf, "logfile=" + log });
	ASSERT_TRUE(dst->ok()) << dst->log();
	auto res = nbdt::copy(srcf, dst->uri());
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(res.st.bytes_zeroed, 79 * MiB);
	auto zeroes = zero_requests(log);
	EXPECT_GE(zeroes.size(), 3u);
	std::ifstream in(log);
	std::string line;
	while (std::getline(in, line)) {
		auto at = line.find(" Zero id=");
		if (at == std::string::npos)
			continue;
		auto c = line.find("count=", at);
		EXPECT_LE(std::stoull(line.substr(c + 6), nullptr, 0), 32 * MiB) << line;
	}
	dst->stop();
	EXPECT_EQ(rt::read_file(dstf), data);
}

// A server may refuse a fast zero (ENOTSUP); the zero is then sent without
// the flag, and fast zero is not asked for again.
TEST_F(Nbdkit, RefusedFastZeroFallsBackToPlainZero)
{
	rt::Bytes data = mixed_content(8 * MiB, 12);
	auto src = memory_export("src", data);
	std::string log = tmp_.path("dst.log");
	auto dst = memory_export("dst", rt::Bytes(8 * MiB, 0x11),
				 { "--filter=log", "--filter=nozero" },
				 { "zeromode=plugin", "fastzeromode=slow", "logfile=" + log });
	auto res = nbdt::copy(src->uri(), dst->uri(), RESYNC_FULL, nullptr,
			      [](resync *r) { resync_set_nbd_connections(r, 1); });
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(nbdt::read_export(dst->uri()), data);
	EXPECT_EQ(res.st.bytes_zeroed, 8 * MiB / 4 + 8 * MiB / 8);
	// Zeroes sent before the first refusal came back were fast too.
	unsigned fast = 0, plain = 0;
	for (const auto &z : zero_requests(log)) {
		bool is_fast = z.find("fast=1") != std::string::npos;
		fast += is_fast;
		plain += !is_fast;
		EXPECT_NE(z.find(is_fast ? " failed" : " ok"), std::string::npos) << z;
	}
	EXPECT_GE(fast, 1u);
	EXPECT_GE(plain, fast);
}

// A 3 GiB all-zero export: allocation is asked for in at most 1 GiB pieces,
// and nothing is read or written because both sides are known zero.
TEST_F(Nbdkit, AllocationIsQueriedInChunks)
{
	std::string log = tmp_.path("src.log");
	auto src = nbdt::nbdkit(tmp_, "src", { "--filter=log", "memory", "3G", "logfile=" + log });
	auto dst = nbdt::nbdkit(tmp_, "dst", { "memory", "3G" });
	ASSERT_TRUE(src->ok() && dst->ok());
	auto res = nbdt::copy(src->uri(), dst->uri());
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(res.st.bytes_read, 0u);
	EXPECT_EQ(res.st.bytes_written + res.st.bytes_zeroed, 0u);
	EXPECT_EQ(res.st.bytes_skipped_zero, 3ull << 30);
	std::ifstream in(log);
	std::string line;
	unsigned queries = 0;
	while (std::getline(in, line)) {
		// Requests, not the "...Extents" reply lines.
		if (line.find(" Extents id=") == std::string::npos)
			continue;
		queries++;
		auto at = line.find("count=");
		ASSERT_NE(at, std::string::npos) << line;
		EXPECT_LE(std::stoull(line.substr(at + 6), nullptr, 0), 1ull << 30) << line;
	}
	EXPECT_GE(queries, 3u);
}

// A server may describe less than was asked for: here every allocation reply
// covers just the 64 KiB at the asked offset, zero and data in turn.
TEST_F(Nbdkit, ShortAllocationRepliesAreFollowed)
{
	auto src = nbdt::nbdkit(
		tmp_, "src",
		{ "eval", "get_size=echo 4194304", "can_extents=exit 0",
		  "extents=if [ $(( $4 / 65536 % 2 )) = 0 ]; then t=hole,zero; else t=; fi; "
		  "echo $(( $4 / 65536 * 65536 )) 65536 $t",
		  "pread=head -c $3 /dev/zero | tr '\\0' A" });
	ASSERT_TRUE(src->ok()) << src->log();
	rt::Bytes expect(4 * MiB, 0);
	for (uint64_t off = 64 * KiB; off < expect.size(); off += 128 * KiB)
		std::fill(expect.begin() + off, expect.begin() + off + 64 * KiB, 'A');
	auto dst = memory_export("dst", rt::Bytes(4 * MiB, 0xff));
	auto res = nbdt::copy(src->uri(), dst->uri());
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(nbdt::read_export(dst->uri()), expect);
	EXPECT_EQ(res.st.bytes_read, 2 * MiB);
	EXPECT_EQ(res.st.bytes_zeroed, 2 * MiB);
}

TEST_F(Nbdkit, ReadErrorFailsWithOffsetAndErrno)
{
	// Only the 1 MiB request at 4 MiB fails.
	auto src = nbdt::nbdkit(
		tmp_, "src",
		{ "eval", "get_size=echo 8388608",
		  "pread=if [ $4 -eq 4194304 ]; then echo 'EIO injected' >&2; exit 1; fi; "
		  "head -c $3 /dev/zero" });
	ASSERT_TRUE(src->ok()) << src->log();
	std::string raw = tmp_.path("raw.img");
	rt::write_file(raw, rt::Bytes(8 * MiB, 0x22));
	auto res = nbdt::copy(src->uri(), raw, RESYNC_FULL, nullptr, [](resync *r) {
		resync_set_request_size(r, 1 << 20);
		resync_set_flags(r, RESYNC_F_NO_ZERO_DETECT);
	});
	EXPECT_EQ(res.ret, -EIO);
	EXPECT_EQ(res.error_offset, 4 * MiB);
	EXPECT_NE(res.error.find("source " + src->uri() +
				 ": nbd_aio_pread (read) at offset 4194304"),
		  std::string::npos)
		<< res.error;
	EXPECT_NE(res.error.find("Input/output error"), std::string::npos) << res.error;
}

TEST_F(Nbdkit, WriteErrorFailsWithErrno)
{
	rt::Bytes data = rt::random_bytes(4 * MiB, 8);
	auto src = memory_export("src", data);
	auto dst = nbdt::nbdkit(tmp_, "dst",
				{ "--filter=error", "memory", "4M", "error=EIO",
				  "error-pwrite-rate=100%" });
	ASSERT_TRUE(dst->ok()) << dst->log();
	auto res = nbdt::copy(src->uri(), dst->uri());
	EXPECT_EQ(res.ret, -EIO);
	EXPECT_LT(res.error_offset, 4 * MiB);
	EXPECT_EQ(res.error_offset % (512 * KiB), 0u);
	EXPECT_NE(res.error.find("target " + dst->uri() + ": nbd_aio_pwrite (write) at offset "),
		  std::string::npos)
		<< res.error;
	EXPECT_EQ(res.st.bytes_written, 0u);
}

// An error the server reports as momentary (ENOMEM) is retried.
TEST_F(Nbdkit, TransientErrorIsRetried)
{
	std::string mark = tmp_.path("failed-once");
	rt::Bytes data = rt::random_bytes(4 * MiB, 9);
	std::string img = tmp_.path("src.img");
	rt::write_file(img, data);
	auto src = nbdt::nbdkit(
		tmp_, "src",
		{ "eval", "get_size=echo 4194304",
		  "pread=if [ $4 -eq 2097152 ] && [ ! -e " + mark + " ]; then touch " + mark +
			  "; echo 'ENOMEM try again' >&2; exit 1; fi; "
			  "dd if=" +
			  img + " skip=$4 count=$3 iflag=skip_bytes,count_bytes status=none" });
	ASSERT_TRUE(src->ok()) << src->log();
	std::string raw = tmp_.path("raw.img");
	rt::write_file(raw, rt::Bytes(4 * MiB, 0));
	auto res = nbdt::copy(src->uri(), raw);
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(rt::read_file(raw), data);
	EXPECT_EQ(access(mark.c_str(), F_OK), 0);
}

class Tls : public Nbdkit {
protected:
	void SetUp() override
	{
		keys_ = tmp_.path("keys.psk");
		bad_ = tmp_.path("bad.psk");
		ASSERT_EQ(nbdt::run({ "psktool", "-u", "alice", "-p", keys_ }), 0);
		ASSERT_EQ(nbdt::run({ "psktool", "-u", "alice", "-p", bad_ }), 0);
		data_ = rt::random_bytes(4 * MiB, 10);
		std::string f = tmp_.path("src.img");
		rt::write_file(f, data_);
		src_ = nbdt::nbdkit(tmp_, "src",
				    { "--tls=require", "--tls-psk=" + keys_, "file", f });
		ASSERT_TRUE(src_->ok()) << src_->log();
		raw_ = tmp_.path("raw.img");
		rt::write_file(raw_, rt::Bytes(4 * MiB, 0x33));
	}
	std::string keys_, bad_, raw_;
	rt::Bytes data_;
	std::unique_ptr<nbdt::Server> src_;
};

TEST_F(Tls, RightKeyCopies)
{
	auto res = nbdt::copy(src_->uri("", true), raw_, RESYNC_FULL, nullptr, [&](resync *r) {
		resync_set_tls(r, nullptr, keys_.c_str(), "alice");
	});
	ASSERT_EQ(res.ret, 0) << res.error;
	EXPECT_EQ(rt::read_file(raw_), data_);
}

TEST_F(Tls, WrongKeyIsAccessDenied)
{
	auto res = nbdt::copy(src_->uri("", true), raw_, RESYNC_FULL, nullptr, [&](resync *r) {
		resync_set_tls(r, nullptr, bad_.c_str(), "alice");
	});
	EXPECT_EQ(res.ret, -EACCES);
	EXPECT_NE(res.error.find("source " + src_->uri("", true) + ": "), std::string::npos);
	EXPECT_NE(res.error.find("gnutls"), std::string::npos) << res.error;
	EXPECT_EQ(rt::read_file(raw_), rt::Bytes(4 * MiB, 0x33));
}

TEST_F(Tls, PlainConnectionToTlsServerIsAccessDenied)
{
	auto res = nbdt::copy(src_->uri(), raw_);
	EXPECT_EQ(res.ret, -EACCES);
	EXPECT_NE(res.error.find("requires TLS"), std::string::npos) << res.error;
}

TEST_F(Tls, UnknownUserIsAccessDenied)
{
	auto res = nbdt::copy(src_->uri("", true), raw_, RESYNC_FULL, nullptr, [&](resync *r) {
		resync_set_tls(r, nullptr, keys_.c_str(), "mallory");
	});
	EXPECT_EQ(res.ret, -EACCES);
	EXPECT_NE(res.error.find("mallory"), std::string::npos) << res.error;
}

} // namespace
