// SPDX-License-Identifier: MIT
// What the command line refuses, and how it says so (issue 8 items 13 and
// 15): recovery-point --disk options are checked at `add` (32773 naming the
// option, nothing stored), commas in paths are escaped, unknown and
// value-less options are named, settings that are not JSON say where.
#include "harness.h"

namespace {

class CliParsing : public CtlTest {
protected:
	void SetUp() override
	{
		CtlTest::SetUp();
		add_vm("vm", 65536);
		img = make_image("rp.img", 65536, 3);
	}
	// A refused call: exact value and exit, the message holding what, and
	// no recovery point stored.
	void refused(const std::vector<std::string> &args, uint32_t rv, const std::string &what)
	{
		std::string before = snapshot("vm", {});
		CliRun r = ctl(args);
		EXPECT_EQ(r.rv, rv) << r.out;
		EXPECT_EQ(r.status, (int)(rv - 32767));
		EXPECT_NE(r.str("ErrorDescription").find(what), std::string::npos)
			<< "message: " << r.str("ErrorDescription") << "\nwanted: " << what;
		EXPECT_EQ(snapshot("vm", {}), before);
	}
	void bad_disk(const std::string &spec, const std::string &what)
	{
		refused({ "recovery-point", "add", "vm", "rp1", "--disk", spec }, 32773u, what);
	}
	std::string img;
};

const std::string G1 = "00000000000000000000000000000001";

} // namespace

TEST_F(CliParsing, RecoveryPointDiskOptionsAreCheckedAtAdd)
{
	bad_disk("d0=" + img + ",dirty_bitmap=fb0", "option \"dirty_bitmap=fb0\" is not an option");
	bad_disk("d0=" + img + ",bitmap=" + path("b") + ",bogus",
		 "option \"bogus\" is not an option");
	bad_disk("d0=" + img + ",generation=zz", "option \"generation=zz\" must be 32 hex digits");
	bad_disk("d0=" + img + ",dirty-bitmap=b,base=123",
		 "option \"base=123\" must be 32 hex digits");
	bad_disk("d0=" + img + ",bitmap=", "option \"bitmap=\" wants a value");
	bad_disk("d0=" + img + ",extents=", "option \"extents=\" wants a value");
	bad_disk("d0=" + img + ",dirty-bitmap=", "option \"dirty-bitmap=\" wants a value");
	bad_disk("d0=" + img + ",bitmap=/a,extents=/b",
		 "option \"extents=/b\" is a second change record");
	bad_disk("d0=" + img + ",generation=" + G1 + ",generation=" + G1, "is given twice");
	bad_disk("d0=" + img + ",consistent", "base= and consistent describe a change record");
	bad_disk("d0=", "--disk wants DISK=IMAGE");
	bad_disk("=" + img, "--disk wants DISK=IMAGE");
	EXPECT_EQ(json_object_array_length(
			  ctl({ "recovery-point", "list", "vm" }).obj("RecoveryPoints")),
		  0u);
}

TEST_F(CliParsing, CommasInPathsAreEscaped)
{
	CliRun r = ctl({ "recovery-point", "add", "vm", "rp1", "--disk",
			 "d0=/img\\,1.raw,bitmap=/b\\\\x\\,y.bmp,generation=" + G1 });
	ASSERT_EQ(r.rv, 0u) << r.out;
	CliRun show = ctl({ "recovery-point", "show", "vm", "rp1" });
	json_object *rp = show.obj("RecoveryPoint");
	ASSERT_NE(rp, nullptr);
	json_object *d = json_object_array_get_idx(json_object_object_get(rp, "Disks"), 0);
	EXPECT_EQ(jstr(d, "Image"), "/img,1.raw");
	EXPECT_EQ(jstr(d, "ImageGenerationId"), G1);
	EXPECT_EQ(jstr(json_object_object_get(d, "ChangeRecord"), "Path"), "/b\\x,y.bmp");
	// vm add reads the same grammar.
	refused({ "vm", "add", "vm2", "--disk", "d0=" + path("t") + ",gen=1" }, 32773u,
		"option \"gen=1\" is not an option");
	ASSERT_EQ(ctl({ "vm", "add", "vm2", "--disk", "d0=/t\\,2" }).rv, 0u);
	EXPECT_EQ(jstr(json_object_array_get_idx(json_object_object_get(vm_show("vm2"), "Disks"),
						 0),
		       "Target"),
		  "/t,2");
}

TEST_F(CliParsing, UnknownOptionsAreNamed)
{
	refused({ "recovery-point", "add", "vm", "rp1", "--bogus", "--disk", "d0=" + img }, 32773u,
		"unknown option \"--bogus\"");
	refused({ "failback", "vm", "--bogus=1" }, 32773u, "unknown option \"--bogus\"");
	refused({ "failback", "vm", "--settings" }, 32773u, "option \"--settings\" wants a value");
	refused({ "failback", "vm", "-q" }, 32773u, "unknown option \"-q\"");
	refused({ "vm", "add", "x", "--disk" }, 32773u, "option \"--disk\" wants a value");
	refused({ "job", "list", "--vmm", "vm" }, 32773u, "unknown option \"--vmm\"");
	refused({ "job", "wait", "j", "--timeout" }, 32773u, "option \"--timeout\" wants a value");
	refused({ "failover", "vm", "--force" }, 32773u, "unknown option \"--force\"");
	CliRun r = run_cmd(ctl_binary(), { "--json", "vm", "list", "--state-dir" });
	EXPECT_EQ(r.rv, 32773u);
	EXPECT_NE(jstr(r.json, "ErrorDescription").find("option \"--state-dir\" wants a value"),
		  std::string::npos)
		<< r.out;
}

TEST_F(CliParsing, SettingsThatAreNotJsonSayWhere)
{
	ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp1", "--disk", "d0=" + img }).rv, 0u);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	refused({ "failback", "vm", "--settings", "[]" }, 32776u, "settings: not a JSON object");
	refused({ "failback", "vm", "--settings", " [1, 2]" }, 32776u,
		"settings: not a JSON object");
	refused({ "failback", "vm", "--settings", "{\"verify\": true," }, 32776u,
		"settings: not JSON at line 1, column 17: the text ends inside a value");
	refused({ "failback", "vm", "--settings", "{\n  \"verify\": tru }" }, 32776u,
		"settings: not JSON at line 2, column 16: boolean expected");
	refused({ "failback", "vm", "--settings", "{} x" }, 32776u,
		"settings: not JSON at line 1, column 4: text after the JSON value");
	write_file(path("s.json"), "{\n\"rate_limit\": 1,\n\"verify\" true}\n");
	refused({ "failback", "vm", "--settings", path("s.json") }, 32776u,
		"settings: not JSON at line 3, column 10: object property name separator ':' expected");
}
