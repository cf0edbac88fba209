// SPDX-License-Identifier: MIT
// rc_pread_full: whole ranges at an offset, the end of the file, bad fds.
#include <gtest/gtest.h>
#include <cerrno>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include "pread_full.h"
#include "testutil.h"

TEST(PreadFull, ReadsTheWholeRangeAtItsOffset)
{
	rt::TempDir tmp;
	std::string f = tmp.path("f");
	rt::Bytes data = rt::random_bytes(3 << 20, 7);
	rt::write_file(f, data);
	int fd = open(f.c_str(), O_RDONLY);
	ASSERT_GE(fd, 0);
	rt::Bytes got((2 << 20) + 5);
	ASSERT_EQ(rc_pread_full(fd, got.data(), got.size(), 12345), 0);
	EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin() + 12345));
	close(fd);
}

TEST(PreadFull, TheEndOfTheFileIsENODATA)
{
	rt::TempDir tmp;
	std::string f = tmp.path("f");
	rt::write_file(f, rt::random_bytes(100, 1));
	int fd = open(f.c_str(), O_RDONLY);
	ASSERT_GE(fd, 0);
	char buf[64];
	EXPECT_EQ(rc_pread_full(fd, buf, sizeof buf, 50), -ENODATA);
	EXPECT_EQ(rc_pread_full(fd, buf, 0, 500), 0);
	close(fd);
}

TEST(PreadFull, AFailingReadGivesItsErrno)
{
	char buf[8];
	EXPECT_EQ(rc_pread_full(-1, buf, sizeof buf, 0), -EBADF);
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	EXPECT_EQ(rc_pread_full(p[0], buf, sizeof buf, 0), -ESPIPE);
	close(p[0]);
	close(p[1]);
}
