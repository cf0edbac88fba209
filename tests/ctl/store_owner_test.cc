// SPDX-License-Identifier: MIT
// Store trust (issue 8 item 10): a store, sub-folder, job folder or record
// owned by someone other than the caller or root, or writable by others, or
// group-writable by a group other than the operator group, is refused with
// 32769 before anything is written.
#include "harness.h"
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <atomic>
#include <set>
#include <thread>
#include "stress.h"
extern "C" {
#include "store.h"
}

namespace {

const uid_t kNobody = 65534;
const gid_t kNogroup = 65534;

// Every path under root with its mode, owner and size: what "nothing
// written" compares.
std::set<std::string> tree(const std::string &root)
{
	std::set<std::string> out;
	std::vector<std::string> todo = { root };
	while (!todo.empty()) {
		std::string d = todo.back();
		todo.pop_back();
		DIR *dp = opendir(d.c_str());
		if (!dp)
			continue;
		while (struct dirent *de = readdir(dp)) {
			std::string n = de->d_name;
			if (n == "." || n == "..")
				continue;
			std::string p = d + "/" + n;
			struct stat st;
			if (lstat(p.c_str(), &st) < 0)
				continue;
			out.insert(p + " " + std::to_string(st.st_mode) + " " +
				   std::to_string(st.st_uid) + " " + std::to_string(st.st_size) +
				   " " + std::to_string(st.st_mtim.tv_nsec));
			if (S_ISDIR(st.st_mode))
				todo.push_back(p);
		}
		closedir(dp);
	}
	return out;
}

void chown_r(const std::string &p, uid_t u, gid_t g)
{
	std::string cmd =
		"chown -R " + std::to_string(u) + ":" + std::to_string(g) + " '" + p + "'";
	ASSERT_EQ(system(cmd.c_str()), 0);
}

class StoreOwnership : public CtlTest {
protected:
	void SetUp() override
	{
		CtlTest::SetUp();
		if (geteuid() != 0)
			GTEST_SKIP() << "changing owners needs root";
		add_vm("vm", 65536);
		ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp1", "--disk",
				"d0=" + make_image("rp1.img", 65536, 1) })
				  .rv,
			  0u);
	}
	void expect_refused(const std::vector<std::string> &args, const std::string &what)
	{
		std::set<std::string> before = tree(state);
		CliRun r = ctl(args);
		EXPECT_EQ(r.rv, 32769u) << args[0] << " " << args[1];
		EXPECT_EQ(r.status, 2);
		EXPECT_NE(r.str("ErrorDescription").find(what), std::string::npos)
			<< r.str("ErrorDescription");
		EXPECT_EQ(tree(state), before) << "a refused call wrote to the store";
	}
};

} // namespace

TEST_F(StoreOwnership, StoreOwnedByAnotherUserIsRefused)
{
	chown_r(state, kNobody, kNogroup);
	const std::string why = state + " is owned by uid 65534, neither you (uid 0) nor root";
	expect_refused({ "vm", "add", "vm2", "--disk", "d0=" + path("t2") }, why);
	expect_refused({ "vm", "list" }, why);
	expect_refused({ "vm", "show", "vm" }, why);
	expect_refused({ "recovery-point", "remove", "vm", "rp1" }, why);
	expect_refused({ "failback", "vm" }, why);
	expect_refused({ "job", "list" }, why);
	EXPECT_EQ(access((state + "/vms/vm2.json").c_str(), F_OK), -1);
}

TEST_F(StoreOwnership, SubfolderOrRecordOwnedByAnotherUserIsRefused)
{
	ASSERT_EQ(chown((state + "/jobs").c_str(), kNobody, 0), 0);
	expect_refused({ "vm", "show", "vm" }, state + "/jobs is owned by uid 65534");
	ASSERT_EQ(chown((state + "/jobs").c_str(), 0, 0), 0);
	ASSERT_EQ(chown((state + "/vms/vm.json").c_str(), kNobody, 0), 0);
	expect_refused({ "vm", "show", "vm" }, "vms/vm.json not trusted: owned by uid 65534");
	expect_refused({ "failback", "vm" }, "vms/vm.json not trusted");
	expect_refused({ "recovery-point", "add", "vm", "rp2", "--disk", "d0=" + path("rp1.img") },
		       "vms/vm.json not trusted");
}

TEST_F(StoreOwnership, GroupOrOtherWritableIsRefused)
{
	ASSERT_EQ(chmod(state.c_str(), 0770), 0);
	expect_refused({ "vm", "list" },
		       state + " is group-writable (mode 0770) and no operator group");
	ASSERT_EQ(chmod(state.c_str(), 0707), 0);
	expect_refused({ "vm", "list" }, state + " is writable by others (mode 0707)");
	ASSERT_EQ(chmod(state.c_str(), 0700), 0);
	ASSERT_EQ(chmod((state + "/vms").c_str(), 0702), 0);
	expect_refused({ "vm", "show", "vm" }, state + "/vms is writable by others");
	ASSERT_EQ(chmod((state + "/vms").c_str(), 0700), 0);
	ASSERT_EQ(chmod((state + "/vms/vm.json").c_str(), 0622), 0);
	expect_refused({ "vm", "show", "vm" }, "writable by others (mode 0622)");
	ASSERT_EQ(chmod((state + "/vms/vm.json").c_str(), 0600), 0);
	EXPECT_EQ(ctl({ "vm", "show", "vm" }).rv, 0u);
}

TEST_F(StoreOwnership, OperatorGroupMayWrite)
{
	// Group-writable by the operator group, and a record a member of it
	// (nobody, whose primary group is nogroup) owns: trusted.
	chown_r(state, 0, kNogroup);
	ASSERT_EQ(system(("chmod -R g+w '" + state + "'").c_str()), 0);
	ASSERT_EQ(chown((state + "/vms/vm.json").c_str(), kNobody, kNogroup), 0);
	expect_refused({ "vm", "show", "vm" }, "group-writable");
	{
		ScopedEnv g("RESYNC_OPERATOR_GROUP", "nogroup");
		CliRun r = ctl({ "vm", "show", "vm" });
		EXPECT_EQ(r.rv, 0u) << r.str("ErrorDescription");
	}
	{
		ScopedEnv g("RESYNC_OPERATOR_GROUP", std::to_string(kNogroup));
		EXPECT_EQ(ctl({ "vm", "show", "vm" }).rv, 0u);
	}
	{
		// Another operator group: the store's group may not write.
		ScopedEnv g("RESYNC_OPERATOR_GROUP", "root");
		expect_refused({ "vm", "show", "vm" }, "not the operator group 0");
	}
	{
		// A record of a user outside the operator group stays refused.
		ScopedEnv g("RESYNC_OPERATOR_GROUP", "nogroup");
		ASSERT_EQ(chown((state + "/vms/vm.json").c_str(), 1, kNogroup), 0);
		expect_refused(
			{ "vm", "show", "vm" },
			"owned by uid 1, neither you (uid 0) nor root nor a member of the operator group");
	}
}

TEST_F(StoreOwnership, UnprivilegedUserCannotUseRootsStore)
{
	// The test folder open to all, the store root's own (0700): nobody is
	// refused, and nothing is written.
	ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
	std::set<std::string> before = tree(state);
	CliRun r = run_cmd("/usr/bin/setpriv", { "--reuid=65534", "--regid=65534", "--clear-groups",
						 ctl_binary(), "--state-dir", state, "--json", "vm",
						 "add", "evil", "--disk", "d0=" + path("t") });
	EXPECT_EQ(r.rv, 32769u) << r.out << r.err;
	EXPECT_NE(jstr(r.json, "ErrorDescription").find(state), std::string::npos) << r.out;
	EXPECT_EQ(tree(state), before);
	// Nor may root use a store nobody made.
	std::string theirs = dir + "/theirs";
	ASSERT_EQ(mkdir(theirs.c_str(), 0700), 0);
	ASSERT_EQ(chown(theirs.c_str(), kNobody, kNogroup), 0);
	r = run_cmd("/usr/bin/setpriv", { "--reuid=65534", "--regid=65534", "--clear-groups",
					  ctl_binary(), "--state-dir", theirs, "--json", "vm",
					  "add", "v", "--disk", "d0=" + path("t") });
	EXPECT_EQ(r.rv, 0u) << r.out << r.err;
	r = ctl_text({ "--state-dir", theirs, "vm", "show", "v" });
	EXPECT_EQ(r.rv, 32769u);
	EXPECT_NE(r.err.find(theirs + " is owned by uid 65534"), std::string::npos) << r.err;
}

// The operator-group membership check answers each thread for its own
// user: resyncd reads records and journal segments from several threads
// at once, and a shared static passwd/group result made a member look
// like an outsider (a spurious 32769) or the reverse.
TEST(StoreTrustThreads, MembershipIsPerThread)
{
	// A group with a supplementary member, and a user outside it: the
	// member check then needs both the user's name and the group's list.
	gid_t gid = 0;
	uid_t member = 0;
	bool found = false;
	setgrent();
	while (struct group *g = getgrent()) {
		for (char **m = g->gr_mem; m && *m && !found; m++)
			if (struct passwd *pw = getpwnam(*m)) {
				if (pw->pw_gid != g->gr_gid && pw->pw_uid != 0) {
					gid = g->gr_gid;
					member = pw->pw_uid;
					found = true;
				}
			}
		if (found)
			break;
	}
	endgrent();
	if (!found)
		GTEST_SKIP() << "no group with a supplementary member in the group database";
	uid_t outsider = member == 2 ? 3 : 2;
	ScopedEnv g("RESYNC_OPERATOR_GROUP", std::to_string(gid));
	std::atomic<long> wrong{ 0 };
	int iters = rt::rounds(20000, 200000);
	auto check = [&](uid_t uid, int want) {
		struct stat st {};
		st.st_uid = uid;
		st.st_gid = gid;
		st.st_mode = S_IFREG | 0660;
		char why[160];
		for (int i = 0; i < iters; i++)
			if (ctl_trust_stat(&st, why, sizeof(why)) != want)
				wrong++;
	};
	std::vector<std::thread> ts;
	for (int t = 0; t < 2; t++) {
		ts.emplace_back(check, member, 0);
		ts.emplace_back(check, outsider, -EPERM);
	}
	for (auto &t : ts)
		t.join();
	EXPECT_EQ(wrong.load(), 0) << "of " << 4 * iters << " membership answers were wrong";
}
