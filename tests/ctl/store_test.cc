// SPDX-License-Identifier: MIT
// The state store: name validation, atomic JSON records, symlink refusal, locks.
#include <gtest/gtest.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string>
extern "C" {
#include "cli.h"
#include "store.h"
}

class Store : public ::testing::Test {
protected:
	void SetUp() override
	{
		char tmpl[] = "/tmp/resyncctl-store.XXXXXX";
		ASSERT_NE(mkdtemp(tmpl), nullptr);
		dir = tmpl;
		ASSERT_EQ(ctl_store_open(&s, (dir + "/a/b/state").c_str()), 0);
	}
	void TearDown() override
	{
		ctl_store_close(&s);
		ASSERT_EQ(system(("rm -rf " + dir).c_str()), 0);
	}
	std::string dir;
	struct ctl_store s;
};

TEST(StoreNames, AcceptsOnlyPlainNames)
{
	EXPECT_TRUE(ctl_name_valid("vm1"));
	EXPECT_TRUE(ctl_name_valid("A.b_c-9"));
	EXPECT_TRUE(ctl_name_valid(std::string(64, 'x').c_str()));
	EXPECT_FALSE(ctl_name_valid(std::string(65, 'x').c_str()));
	EXPECT_FALSE(ctl_name_valid(""));
	EXPECT_FALSE(ctl_name_valid(nullptr));
	EXPECT_FALSE(ctl_name_valid("."));
	EXPECT_FALSE(ctl_name_valid(".."));
	EXPECT_FALSE(ctl_name_valid(".hidden"));
	EXPECT_FALSE(ctl_name_valid("-opt"));
	EXPECT_FALSE(ctl_name_valid("a/b"));
	EXPECT_FALSE(ctl_name_valid("../etc"));
	EXPECT_FALSE(ctl_name_valid("a b"));
	EXPECT_FALSE(ctl_name_valid("a\nb"));
}

TEST_F(Store, CreatesDirectoriesWithMode0700)
{
	for (const char *sub : { "", "/vms", "/jobs" }) {
		struct stat st;
		ASSERT_EQ(stat((dir + "/a/b/state" + sub).c_str(), &st), 0);
		EXPECT_EQ(st.st_mode & 07777, 0700u) << sub;
	}
}

TEST_F(Store, WritesAndReadsJsonAtomically)
{
	json_object *o = json_object_new_object(), *back = nullptr;
	json_object_object_add(o, "k", json_object_new_int(42));
	ASSERT_EQ(ctl_write_json(s.vms, "x.json", o), 0);
	ASSERT_EQ(ctl_read_json(s.vms, "x.json", &back), 0);
	EXPECT_EQ(json_object_get_int(json_object_object_get(back, "k")), 42);
	struct stat st;
	ASSERT_EQ(fstatat(s.vms, "x.json", &st, 0), 0);
	EXPECT_EQ(st.st_mode & 0777, 0600u);
	// No temporary file is left behind.
	EXPECT_EQ(system(("test $(ls -A " + dir + "/a/b/state/vms | wc -l) -eq 1").c_str()), 0);
	json_object_put(o);
	json_object_put(back);
}

TEST_F(Store, RefusesSymlinksAndBadJson)
{
	json_object *o = nullptr;
	ASSERT_EQ(symlinkat("/etc/passwd", s.vms, "evil.json"), 0);
	EXPECT_EQ(ctl_read_json(s.vms, "evil.json", &o), -ELOOP);
	json_object *w = json_object_new_object();
	EXPECT_EQ(ctl_write_json(s.vms, "evil.json", w), 0); // replaces the link itself
	struct stat st;
	ASSERT_EQ(fstatat(s.vms, "evil.json", &st, AT_SYMLINK_NOFOLLOW), 0);
	EXPECT_TRUE(S_ISREG(st.st_mode));
	json_object_put(w);

	int fd = openat(s.vms, "bad.json", O_WRONLY | O_CREAT, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "{\"a\":", 5), 5);
	close(fd);
	EXPECT_EQ(ctl_read_json(s.vms, "bad.json", &o), -EBADMSG);
	EXPECT_EQ(o, nullptr);
	EXPECT_EQ(ctl_read_json(s.vms, "none.json", &o), -ENOENT);

	ASSERT_EQ(symlinkat("/tmp", s.jobs, "linkdir"), 0);
	EXPECT_LT(ctl_open_dir(s.jobs, "linkdir"), 0);
}

TEST_F(Store, LockIsExclusiveAndDetectable)
{
	int a = -1, b = -1;
	EXPECT_EQ(ctl_lock_held(s.vms, "x.lock"), 0);
	ASSERT_EQ(ctl_lock(s.vms, "x.lock", false, &a), 0);
	EXPECT_EQ(ctl_lock_held(s.vms, "x.lock"), 1);
	EXPECT_EQ(ctl_lock(s.vms, "x.lock", false, &b), -EWOULDBLOCK);
	close(a);
	EXPECT_EQ(ctl_lock_held(s.vms, "x.lock"), 0);
	ASSERT_EQ(ctl_lock(s.vms, "x.lock", false, &b), 0);
	close(b);
}

TEST_F(Store, RemovesJobDirectories)
{
	ASSERT_EQ(ctl_mkdir(s.jobs, "j1"), 0);
	EXPECT_EQ(ctl_mkdir(s.jobs, "j1"), -EEXIST);
	int d = ctl_open_dir(s.jobs, "j1");
	ASSERT_GE(d, 0);
	json_object *o = json_object_new_object();
	ASSERT_EQ(ctl_write_json(d, "job.json", o), 0);
	json_object_put(o);
	close(d);
	EXPECT_EQ(ctl_remove_dir(s.jobs, "j1"), 0);
	EXPECT_EQ(ctl_open_dir(s.jobs, "j1"), -ENOENT);
}

TEST(StoreOwnershipRules, OwnerAndModeRules)
{
	struct stat st = {};
	char why[256];

	unsetenv("RESYNC_OPERATOR_GROUP");
	st.st_uid = geteuid();
	st.st_gid = 12345;
	st.st_mode = S_IFDIR | 0700;
	EXPECT_EQ(ctl_trust_stat(&st, why, sizeof(why)), 0);
	st.st_uid = 0;
	EXPECT_EQ(ctl_trust_stat(&st, why, sizeof(why)), 0);
	st.st_uid = 4242;
	EXPECT_EQ(ctl_trust_stat(&st, why, sizeof(why)), geteuid() == 4242 ? 0 : -EPERM);
	EXPECT_NE(std::string(why).find("owned by uid 4242"), std::string::npos) << why;
	st.st_uid = geteuid();
	st.st_mode = S_IFREG | 0602;
	EXPECT_EQ(ctl_trust_stat(&st, why, sizeof(why)), -EPERM);
	EXPECT_STREQ(why, "writable by others (mode 0602)");
	st.st_mode = S_IFREG | 0660;
	EXPECT_EQ(ctl_trust_stat(&st, why, sizeof(why)), -EPERM);
	setenv("RESYNC_OPERATOR_GROUP", "12345", 1);
	EXPECT_EQ(ctl_trust_stat(&st, why, sizeof(why)), 0);
	EXPECT_EQ(ctl_create_mode(0700), 0770u);
	EXPECT_EQ(ctl_create_mode(0600), 0660u);
	st.st_gid = 54321;
	EXPECT_EQ(ctl_trust_stat(&st, why, sizeof(why)), -EPERM);
	EXPECT_NE(std::string(why).find("not the operator group 12345"), std::string::npos) << why;
	st.st_mode = S_IFREG | 0666;
	st.st_gid = 12345;
	EXPECT_EQ(ctl_trust_stat(&st, why, sizeof(why)), -EPERM);
	unsetenv("RESYNC_OPERATOR_GROUP");
	EXPECT_EQ(ctl_create_mode(0700), 0700u);
}
