// SPDX-License-Identifier: MIT
// resyncctl commands other than failback: help, vm, recovery-point, failover,
// output formats and exit status.
#include "harness.h"
#include <sys/stat.h>
#include <unistd.h>

class Cli : public CtlTest {};

TEST_F(Cli, EveryCommandHasHelp)
{
	const std::vector<std::vector<std::string>> cmds = {
		{ "--help" },
		{ "vm", "--help" },
		{ "vm", "add", "--help" },
		{ "recovery-point", "--help" },
		{ "recovery-point", "add", "--help" },
		{ "failover", "--help" },
		{ "failback", "--help" },
		{ "job", "--help" },
		{ "job", "wait", "--help" },
	};
	for (auto &c : cmds) {
		CliRun r = ctl_text(c);
		EXPECT_EQ(r.status, 0) << c[0];
		EXPECT_EQ(r.out.rfind("Usage: resyncctl", 0), 0u) << r.out;
	}
}

TEST_F(Cli, UsageErrorsAreInvalidParameter)
{
	CliRun r = ctl({ "frobnicate" });
	EXPECT_EQ(r.rv, 32773u);
	EXPECT_EQ(r.status, 6);
	EXPECT_NE(r.str("ErrorDescription").find("frobnicate"), std::string::npos);
	r = ctl({ "vm", "add", "x" });
	EXPECT_EQ(r.rv, 32773u);
	r = ctl({ "failback" });
	EXPECT_EQ(r.rv, 32773u);
	r = ctl({ "failback", "vm", "--timeout", "5" });
	EXPECT_EQ(r.rv, 32773u);
	r = ctl_text({ "vm", "show" });
	EXPECT_EQ(r.status, 6);
	EXPECT_EQ(r.out, "ReturnValue: 32773\n");
}

TEST_F(Cli, VmAddListShowRemove)
{
	std::string t = path("t.img");
	write_file(t, std::string(1 << 20, '\0'));
	CliRun r = ctl({ "vm", "add", "web", "--disk",
			 "d0=" + t + ",generation=00112233445566778899aabbccddeeff", "--disk",
			 "d1=nbd+unix:///x?socket=/run/s.sock" });
	ASSERT_EQ(r.rv, 0u) << r.out << r.err;
	EXPECT_EQ(r.status, 0);
	struct stat st;
	ASSERT_EQ(stat(state.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0700u);

	json_object *vm = vm_show("web");
	ASSERT_NE(vm, nullptr);
	EXPECT_EQ(jnum(vm, "ReplicationMode"), 2);
	EXPECT_EQ(jnum(vm, "ReplicationState"), 3);
	EXPECT_EQ(jnum(vm, "ReplicationHealth"), 1);
	json_object *disks = json_object_object_get(vm, "Disks");
	ASSERT_EQ(json_object_array_length(disks), 2u);
	json_object *d0 = json_object_array_get_idx(disks, 0);
	EXPECT_EQ(jstr(d0, "Target"), t);
	EXPECT_EQ(jstr(d0, "TargetGenerationId"), "00112233445566778899aabbccddeeff");
	EXPECT_EQ(jstr(json_object_array_get_idx(disks, 1), "Target"),
		  "nbd+unix:///x?socket=/run/s.sock");

	r = ctl({ "vm", "add", "web", "--disk", "d0=" + t });
	EXPECT_EQ(r.rv, 32774u);
	EXPECT_EQ(r.status, 7);
	r = ctl({ "vm", "add", "../evil", "--disk", "d0=" + t });
	EXPECT_EQ(r.rv, 32773u);
	r = ctl({ "vm", "add", "x", "--disk", "d0=" + t, "--disk", "d0=" + t });
	EXPECT_EQ(r.rv, 32773u);
	r = ctl({ "vm", "add", "x", "--disk", "d0=" + t + ",generation=123" });
	EXPECT_EQ(r.rv, 32773u);
	// Another VM may not write the same target, under any name for it.
	ASSERT_EQ(symlink(t.c_str(), path("alias.img").c_str()), 0);
	r = ctl({ "vm", "add", "db", "--disk", "d0=" + path("alias.img"), "--mode", "primary" });
	EXPECT_EQ(r.rv, 32773u);
	EXPECT_NE(r.str("ErrorDescription").find("is also disk \"d0\" of VM \"web\""),
		  std::string::npos)
		<< r.out;
	r = ctl({ "vm", "add", "db", "--disk", "d0=" + path("db.img"), "--mode", "primary" });
	EXPECT_EQ(r.rv, 0u);

	r = ctl({ "vm", "list" });
	ASSERT_EQ(r.rv, 0u);
	json_object *vms = r.obj("Vms");
	ASSERT_EQ(json_object_array_length(vms), 2u);
	EXPECT_EQ(jstr(json_object_array_get_idx(vms, 0), "Name"), "db");
	EXPECT_EQ(jnum(json_object_array_get_idx(vms, 0), "ReplicationMode"), 1);

	CliRun text = ctl_text({ "vm", "show", "web" });
	EXPECT_NE(text.out.find("ReplicationState: 3 (Replicating)"), std::string::npos)
		<< text.out;

	EXPECT_EQ(ctl({ "vm", "remove", "db" }).rv, 0u);
	EXPECT_EQ(ctl({ "vm", "show", "db" }).rv, 32773u);
	EXPECT_EQ(ctl({ "vm", "remove", "db" }).rv, 32773u);
	EXPECT_EQ(json_object_array_length(ctl({ "vm", "list" }).obj("Vms")), 1u);
}

TEST_F(Cli, SymlinkedRecordIsRefused)
{
	add_vm("a", 4096);
	ASSERT_EQ(symlink((state + "/vms/a.json").c_str(), (state + "/vms/b.json").c_str()), 0);
	CliRun r = ctl({ "vm", "show", "b" });
	EXPECT_EQ(r.rv, 32771u);
	EXPECT_EQ(r.obj("Vm"), nullptr);
}

TEST_F(Cli, RecoveryPoints)
{
	add_vm("vm", 1 << 20);
	std::string img = make_image("rp.img", 1 << 20, 1);
	CliRun r = ctl({ "recovery-point", "add", "vm", "rp1", "--disk", "d0=" + img, "--time",
			 "2026-01-01T00:00:00Z", "--type", "application-consistent" });
	ASSERT_EQ(r.rv, 0u) << r.out;
	r = ctl({ "recovery-point", "add", "vm", "rp0", "--disk", "d0=" + img + ",bitmap=/b.bmp",
		  "--time", "1000" });
	ASSERT_EQ(r.rv, 0u);
	r = ctl({ "recovery-point", "add", "vm", "rp2", "--disk",
		  "d0=nbd://h/x,dirty-bitmap=bm,base=00000000000000000000000000000001,consistent,"
		  "generation=00000000000000000000000000000002",
		  "--time", "2026-01-02T00:00:00Z", "--type", "planned-failover" });
	ASSERT_EQ(r.rv, 0u) << r.out;

	EXPECT_EQ(ctl({ "recovery-point", "add", "vm", "rp1", "--disk", "d0=" + img }).rv, 32774u);
	EXPECT_EQ(ctl({ "recovery-point", "add", "vm", "rp3", "--disk", "d9=" + img }).rv, 32773u);
	EXPECT_EQ(ctl({ "recovery-point", "add", "vm", "rp3" }).rv, 32773u);
	EXPECT_EQ(ctl({ "recovery-point", "add", "nope", "rp3", "--disk", "d0=" + img }).rv,
		  32773u);
	EXPECT_EQ(ctl({ "recovery-point", "add", "vm", "rp3", "--disk", "d0=" + img, "--time",
			"yesterday" })
			  .rv,
		  32773u);

	r = ctl({ "recovery-point", "list", "vm" });
	ASSERT_EQ(r.rv, 0u);
	EXPECT_EQ(json_object_array_length(r.obj("RecoveryPoints")), 3u);

	r = ctl({ "recovery-point", "show", "vm", "rp2" });
	ASSERT_EQ(r.rv, 0u);
	json_object *rp = r.obj("RecoveryPoint");
	EXPECT_EQ(jstr(rp, "Type"), "PlannedFailover");
	EXPECT_EQ(jstr(rp, "CreationTime"), "2026-01-02T00:00:00Z");
	json_object *d = json_object_array_get_idx(json_object_object_get(rp, "Disks"), 0);
	EXPECT_EQ(jstr(d, "Image"), "nbd://h/x");
	EXPECT_EQ(jstr(d, "ImageGenerationId"), "00000000000000000000000000000002");
	json_object *cr = json_object_object_get(d, "ChangeRecord");
	EXPECT_EQ(jstr(cr, "Kind"), "nbd-dirty");
	EXPECT_EQ(jstr(cr, "Name"), "bm");
	EXPECT_TRUE(json_object_get_boolean(json_object_object_get(cr, "Consistent")));

	EXPECT_EQ(ctl({ "recovery-point", "show", "vm", "nope" }).rv, 32773u);
	EXPECT_EQ(ctl({ "recovery-point", "remove", "vm", "rp0" }).rv, 0u);
	EXPECT_EQ(ctl({ "recovery-point", "remove", "vm", "rp0" }).rv, 32773u);
	EXPECT_EQ(json_object_array_length(
			  ctl({ "recovery-point", "list", "vm" }).obj("RecoveryPoints")),
		  2u);
}

TEST_F(Cli, FailoverTransitions)
{
	add_vm("vm", 1 << 20);
	add_vm("prim", 1 << 20, "primary");
	std::string img = make_image("rp.img", 1 << 20, 1);
	EXPECT_EQ(ctl({ "failover", "vm" }).rv, 32773u); // no recovery point yet
	ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "old", "--disk", "d0=" + img, "--time",
			"100" })
			  .rv,
		  0u);
	ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "new", "--disk", "d0=" + img, "--time",
			"200" })
			  .rv,
		  0u);
	ASSERT_EQ(ctl({ "recovery-point", "add", "prim", "p", "--disk", "d0=" + img }).rv, 0u);

	EXPECT_EQ(ctl({ "failover", "vm", "--commit" }).rv, 32775u);
	CliRun r = ctl({ "failover", "prim" });
	EXPECT_EQ(r.rv, 32775u);
	EXPECT_EQ(r.status, 8);
	EXPECT_EQ(jnum(vm_show("prim"), "ReplicationState"), 3);
	EXPECT_EQ(ctl({ "failover", "vm", "--recovery-point", "nope" }).rv, 32773u);

	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	json_object *vm = vm_show("vm");
	EXPECT_EQ(jnum(vm, "ReplicationState"), 5);
	EXPECT_EQ(jstr(vm, "FailedOverTo"), "new");
	ASSERT_EQ(ctl({ "failover", "vm", "--recovery-point", "old" }).rv, 0u);
	EXPECT_EQ(jstr(vm_show("vm"), "FailedOverTo"), "old");
	ASSERT_EQ(ctl({ "failover", "vm", "--commit" }).rv, 0u);
	EXPECT_EQ(jnum(vm_show("vm"), "ReplicationState"), 6);
	EXPECT_EQ(ctl({ "failover", "vm" }).rv, 32775u);
	EXPECT_EQ(ctl({ "failover", "vm", "--commit" }).rv, 32775u);
}

TEST_F(Cli, JobCommandsOnUnknownJobs)
{
	EXPECT_EQ(ctl({ "job", "show", "nope" }).rv, 32773u);
	EXPECT_EQ(ctl({ "job", "show", "../vms" }).rv, 32773u);
	EXPECT_EQ(ctl({ "job", "suspend", "nope" }).rv, 5u);
	EXPECT_EQ(ctl({ "job", "wait", "nope" }).rv, 32773u);
	EXPECT_EQ(ctl({ "job", "remove", "nope" }).rv, 32773u);
	CliRun r = ctl({ "job", "list" });
	EXPECT_EQ(r.rv, 0u);
	EXPECT_EQ(json_object_array_length(r.obj("Jobs")), 0u);
}
