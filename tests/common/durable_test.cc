// SPDX-License-Identifier: MIT
// The durable replace (common/durable.h): the new bytes whole, no temporary
// left behind, the mode less the umask, names relative to a directory or a
// path, a failure that leaves the old file alone, a planted symlink not
// followed, and the durable remove.
#include <gtest/gtest.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>
#include "durable.h"
#include "testutil.h"

namespace {

void put(const std::string &path, const std::string &text)
{
	rt::write_file(path, rt::Bytes(text.begin(), text.end()));
}

std::vector<std::string> entries(const std::string &dir)
{
	std::vector<std::string> out;
	DIR *d = opendir(dir.c_str());
	while (struct dirent *de = d ? readdir(d) : nullptr)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			out.push_back(de->d_name);
	if (d)
		closedir(d);
	std::sort(out.begin(), out.end());
	return out;
}

int write_text(int dirfd, const std::string &name, const std::string &a, const std::string &b,
	       mode_t mode = 0600)
{
	struct iovec iov[2] = { { (void *)a.data(), a.size() }, { (void *)b.data(), b.size() } };
	return rc_write_durable(dirfd, name.c_str(), iov, 2, mode);
}

struct Durable : ::testing::Test {
	rt::TempDir tmp;
	std::string tmp_name(const std::string &base)
	{
		return "." + base + "." + std::to_string(getpid()) + ".tmp";
	}
};

TEST_F(Durable, ReplacesWholeAndLeavesNoTemporary)
{
	std::string f = tmp.path("rec.json");
	put(f, "the old content, longer than the new");
	ASSERT_EQ(write_text(AT_FDCWD, f, "{\"a\":1}", "\n"), 0);
	EXPECT_EQ(rt::read_text(f), "{\"a\":1}\n");
	EXPECT_EQ(entries(tmp.dir()), std::vector<std::string>{ "rec.json" });
	ASSERT_EQ(write_text(AT_FDCWD, f, "", ""), 0);
	EXPECT_EQ(rt::read_text(f), "");
}

TEST_F(Durable, RelativeToADirectoryOrAPath)
{
	ASSERT_EQ(mkdir(tmp.path("sub").c_str(), 0700), 0);
	int dfd = open(tmp.dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(dfd, 0);
	EXPECT_EQ(write_text(dfd, "a", "1", "2"), 0);
	EXPECT_EQ(write_text(dfd, "sub/b", "3", ""), 0);
	close(dfd);
	EXPECT_EQ(rt::read_text(tmp.path("a")), "12");
	EXPECT_EQ(rt::read_text(tmp.path("sub/b")), "3");
	char cwd[4096];
	ASSERT_TRUE(getcwd(cwd, sizeof cwd));
	ASSERT_EQ(chdir(tmp.path("sub").c_str()), 0);
	EXPECT_EQ(write_text(AT_FDCWD, "c", "4", ""), 0);
	ASSERT_EQ(chdir(cwd), 0);
	EXPECT_EQ(rt::read_text(tmp.path("sub/c")), "4");
	EXPECT_EQ(entries(tmp.path("sub")), (std::vector<std::string>{ "b", "c" }));
}

TEST_F(Durable, ModeIsLessTheUmask)
{
	mode_t old = umask(022);
	EXPECT_EQ(write_text(AT_FDCWD, tmp.path("m1"), "x", "", 0640), 0);
	umask(027);
	EXPECT_EQ(write_text(AT_FDCWD, tmp.path("m2"), "x", "", 0660), 0);
	umask(old);
	struct stat st;
	ASSERT_EQ(stat(tmp.path("m1").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0640u);
	ASSERT_EQ(stat(tmp.path("m2").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(Durable, AFailedRenameLeavesTheOldAndNoTemporary)
{
	// A directory in the way: the rename fails after the data was written.
	ASSERT_EQ(mkdir(tmp.path("busy").c_str(), 0700), 0);
	put(tmp.path("busy/keep"), "k");
	EXPECT_EQ(write_text(AT_FDCWD, tmp.path("busy"), "new", ""), -EISDIR);
	EXPECT_EQ(rt::read_text(tmp.path("busy/keep")), "k");
	EXPECT_EQ(entries(tmp.dir()), std::vector<std::string>{ "busy" });
}

TEST_F(Durable, APlantedSymlinkIsNotFollowed)
{
	std::string outside = tmp.path("outside");
	put(outside, "precious");
	ASSERT_EQ(symlink(outside.c_str(), tmp.path(tmp_name("rec")).c_str()), 0);
	EXPECT_EQ(write_text(AT_FDCWD, tmp.path("rec"), "evil", ""), -ELOOP);
	EXPECT_EQ(rt::read_text(outside), "precious");
	struct stat st;
	EXPECT_EQ(lstat(tmp.path("rec").c_str(), &st), -1);
}

TEST_F(Durable, BadNamesSayWhy)
{
	EXPECT_EQ(write_text(AT_FDCWD, tmp.path("dir/"), "x", ""), -EISDIR);
	EXPECT_EQ(write_text(AT_FDCWD, tmp.path(std::string(250, 'n')), "x", ""), -ENAMETOOLONG);
	EXPECT_EQ(write_text(AT_FDCWD, tmp.path("missing/x"), "x", ""), -ENOENT);
	EXPECT_TRUE(entries(tmp.dir()).empty());
}

TEST_F(Durable, RemoveIsDurableAndAbsentIsFine)
{
	std::string f = tmp.path("gone");
	put(f, "x");
	EXPECT_EQ(rc_remove_durable(AT_FDCWD, f.c_str()), 0);
	EXPECT_NE(access(f.c_str(), F_OK), 0);
	EXPECT_EQ(rc_remove_durable(AT_FDCWD, f.c_str()), 0);
	EXPECT_EQ(rc_remove_durable(AT_FDCWD, tmp.path("nodir/x").c_str()), -ENOENT);
}

} // namespace
