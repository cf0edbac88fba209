// SPDX-License-Identifier: MIT
// Hand-corrupted store records (issue 8 item 13): a truncated file, a key
// missing, a value of the wrong type or out of range must read as 32771
// (Status is unknown), and no command may crash on any of them.  The storm
// mutates real records a few hundred ways (a shortened round under
// `make check`, the full one under `make stress`) and runs every command
// that reads them.  Its first rounds give every top-level key of both
// records a value of another type.
#include "harness.h"
#include "stress.h"
#include <set>
#include <random>

namespace {

// Return values a command may print; anything else, or no ReturnValue at
// all (a crash), fails.
const std::set<uint32_t> kDocumented = { 0,     4096,  4097,  5,     32768, 32769, 32770, 32771,
					 32772, 32773, 32774, 32775, 32776, 32777, 32778, 32779 };

class RecordFuzz : public CtlTest {
protected:
	void SetUp() override
	{
		CtlTest::SetUp();
		add_vm("vm", 65536);
		std::string img = make_image("rp1.img", 65536, 5);
		ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp1", "--time", "100", "--disk",
				"d0=" + img + ",generation=0123456789abcdef0123456789abcdef" })
				  .rv,
			  0u);
		ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp2", "--time", "200", "--disk",
				"d0=" + img + ",extents=" + path("none.ext") +
					",base=00000000000000000000000000000001,consistent" })
				  .rv,
			  0u);
		ASSERT_EQ(ctl({ "failover", "vm", "--recovery-point", "rp1" }).rv, 0u);
		CliRun r = ctl({ "failback", "vm", "--recovery-point", "rp1", "--wait", "--timeout",
				 "60" });
		ASSERT_EQ(r.rv, 0u) << r.out;
		job = r.str("JobId");
		vm_file = state + "/vms/vm.json";
		job_file = state + "/jobs/" + job + "/job.json";
		vm_orig = read_file(vm_file);
		job_orig = read_file(job_file);
	}
	// Runs the reading commands; every one must end with a documented value.
	void run_readers(const std::string &what)
	{
		const std::vector<std::vector<std::string>> cmds = {
			{ "vm", "list" },
			{ "vm", "show", "vm" },
			{ "recovery-point", "list", "vm" },
			{ "recovery-point", "show", "vm", "rp1" },
			{ "job", "list" },
			{ "job", "show", job },
			{ "job", "wait", job, "--timeout", "0" },
			{ "failback", "vm", "--recovery-point", "rp1" },
		};
		for (auto &c : cmds) {
			CliRun r = run_cmd(ctl_binary(), with_state(c));
			ASSERT_LT(r.status, 128) << c[0] << " " << c[1] << " died of signal "
						 << r.status - 128 << " on " << what << "\n"
						 << r.err;
			ASSERT_TRUE(r.json)
				<< c[0] << " " << c[1] << " printed no JSON on " << what << "\n"
				<< r.out << r.err;
			ASSERT_EQ(kDocumented.count(r.rv), 1u)
				<< c[0] << " " << c[1] << " -> " << r.rv << " on " << what;
			if (r.rv == 4096)
				settle(r.str("JobId"));
		}
	}
	std::vector<std::string> with_state(const std::vector<std::string> &c)
	{
		std::vector<std::string> a = { "--state-dir", state, "--json" };
		a.insert(a.end(), c.begin(), c.end());
		return a;
	}
	// A failback a harmless mutation let start: let it end and forget it.
	void settle(const std::string &id)
	{
		EXPECT_EQ(ctl({ "job", "wait", id, "--timeout", "60" }).rv, 0u);
		EXPECT_EQ(ctl({ "job", "remove", id }).rv, 0u);
	}
	std::string job, vm_file, job_file, vm_orig, job_orig;
};

// Every value node of o with a way to replace or delete it.
struct Slot {
	json_object *parent;
	std::string key; // for objects
	size_t idx;      // for arrays
};

void collect(json_object *o, std::vector<Slot> &out)
{
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			out.push_back({ o, k, 0 });
			collect(v, out);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			out.push_back({ o, "", i });
			collect(json_object_array_get_idx(o, i), out);
		}
	}
}

json_object *odd_value(unsigned k)
{
	switch (k % 14) {
	case 0:
		return json_object_new_string("");
	case 1:
		return json_object_new_string("zz");
	case 2:
		return json_object_new_int64(0);
	case 3:
		return json_object_new_int64(-1);
	case 4:
		return json_object_new_int64(INT64_MAX);
	case 5:
		return json_object_new_uint64(UINT64_MAX);
	case 6:
		return json_object_new_double(1e300);
	case 7:
		return json_object_new_boolean(true);
	case 8:
		return nullptr; // JSON null
	case 9:
		return json_object_new_array();
	case 10:
		return json_object_new_object();
	case 11:
		return json_object_new_string(std::string(100000, 'x').c_str());
	case 12:
		return json_object_new_string("../../../etc/shadow");
	default:
		return json_object_new_int64(4294967296LL + 4);
	}
}

// One mutation of a record's text.
std::string mutate(const std::string &text, std::mt19937 &g, std::string &how)
{
	switch (g() % 5) {
	case 0: {
		size_t at = g() % text.size();
		how = "truncated at " + std::to_string(at);
		return text.substr(0, at);
	}
	case 1: {
		std::string t = text;
		size_t at = g() % t.size();
		t[at] = "{}[]\":,0a\\\x01"[g() % 11];
		how = "byte " + std::to_string(at) + " changed";
		return t;
	}
	case 2: {
		const char *whole[] = { "[]", "\"vm\"", "42", "null", "{}", "" };
		size_t k = g() % 6;
		how = std::string("replaced by ") + whole[k];
		return whole[k];
	}
	default: {
		json_object *o = json_tokener_parse(text.c_str());
		std::vector<Slot> slots;
		collect(o, slots);
		Slot s = slots[g() % slots.size()];
		bool del = g() % 3 == 0;
		how = (del ? "deleted " : "replaced ") +
		      (s.key.empty() ? "[" + std::to_string(s.idx) + "]" : s.key);
		if (json_object_is_type(s.parent, json_type_object)) {
			if (del)
				json_object_object_del(s.parent, s.key.c_str());
			else
				json_object_object_add(s.parent, s.key.c_str(), odd_value(g()));
		} else if (del) {
			json_object_array_del_idx(s.parent, s.idx, 1);
		} else {
			json_object_array_put_idx(s.parent, s.idx, odd_value(g()));
		}
		std::string out = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		json_object_put(o);
		return out;
	}
	}
}

// Every top-level key given a value of another type, in turn: the first
// rounds of the storm, so even the shortened one covers each key.
std::vector<std::string> every_key_retyped(const std::string &text)
{
	std::vector<std::string> out;
	json_object *o = json_tokener_parse(text.c_str());
	std::vector<std::string> keys;
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		keys.push_back(key);
	}
	for (size_t i = 0; i < keys.size(); i++) {
		json_object *c = json_tokener_parse(text.c_str());
		json_type was = json_object_get_type(json_object_object_get(c, keys[i].c_str()));
		unsigned pick = (unsigned)i;
		json_object *odd = odd_value(pick);
		while (json_object_get_type(odd) == was) {
			json_object_put(odd);
			odd = odd_value(++pick);
		}
		json_object_object_add(c, keys[i].c_str(), odd);
		out.push_back(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));
		json_object_put(c);
	}
	json_object_put(o);
	return out;
}

} // namespace

TEST_F(RecordFuzz, CorruptedRecordsAreStatusUnknown)
{
	struct Case {
		bool vm;
		std::string text;
		const char *why;
	};
	std::string trunc_vm = vm_orig.substr(0, vm_orig.size() / 2);
	auto edit = [](const std::string &text, const char *key, const char *json) {
		json_object *o = json_tokener_parse(text.c_str());
		json_object_object_add(o, key, json_tokener_parse(json));
		std::string s = json_object_to_json_string(o);
		json_object_put(o);
		return s;
	};
	auto drop = [](const std::string &text, const char *key) {
		json_object *o = json_tokener_parse(text.c_str());
		json_object_object_del(o, key);
		std::string s = json_object_to_json_string(o);
		json_object_put(o);
		return s;
	};
	const Case cases[] = {
		{ true, trunc_vm, "not JSON" },
		{ true, drop(vm_orig, "Disks"), "Disks: missing" },
		{ true,
		  edit(vm_orig, "Disks", "[{\"Name\":\"d0\",\"Target\":5,\"GenerationId\":\"\"}]"),
		  "Disks[0].Target: not a string" },
		{ true,
		  edit(vm_orig, "Disks",
		       "[{\"Name\":\"../d0\",\"Target\":\"/t\",\"GenerationId\":\"\"}]"),
		  "Disks[0].Name: not a valid name" },
		{ true, edit(vm_orig, "ReplicationState", "99999999999999999999"),
		  "ReplicationState: out of range" },
		{ true, edit(vm_orig, "ReplicationState", "20"),
		  "ReplicationState: 20 is no state" },
		{ true, edit(vm_orig, "ReplicationMode", "\"2\""),
		  "ReplicationMode: not an integer" },
		{ true, edit(vm_orig, "RecoveryPoints", "{}"), "RecoveryPoints: not an array" },
		{ true, edit(vm_orig, "Name", "\"other\""),
		  "Name: \"other\" in the record of \"vm\"" },
		{ false, job_orig.substr(0, 10), "not JSON" },
		{ false, edit(job_orig, "JobState", "\"7\""), "JobState: not an integer" },
		{ false, edit(job_orig, "WorkerPid", "4294967297"), "WorkerPid: out of range" },
		{ false, drop(job_orig, "VirtualSystem"), "VirtualSystem: missing" },
		{ false, edit(job_orig, "Disks", "[7]"), "Disks[0]: not an object" },
	};
	for (const Case &c : cases) {
		write_file(vm_file, c.vm ? c.text : vm_orig);
		write_file(job_file, c.vm ? job_orig : c.text);
		std::vector<std::string> cmd =
			c.vm ? std::vector<std::string>{ "vm", "show", "vm" } :
			       std::vector<std::string>{ "job", "show", job };
		CliRun r = ctl(cmd);
		EXPECT_EQ(r.rv, 32771u) << c.why;
		EXPECT_EQ(r.status, 4);
		EXPECT_NE(r.str("ErrorDescription").find(c.why), std::string::npos)
			<< r.str("ErrorDescription");
		if (c.vm) {
			EXPECT_EQ(ctl({ "failback", "vm" }).rv, 32771u) << c.why;
			EXPECT_EQ(ctl({ "recovery-point", "list", "vm" }).rv, 32771u) << c.why;
			CliRun l = ctl({ "vm", "list" });
			EXPECT_EQ(l.rv, 0u);
			EXPECT_EQ(json_object_array_length(l.obj("Vms")), 0u) << c.why;
		}
	}
}

TEST_F(RecordFuzz, NoCommandCrashesOnAMutatedRecord)
{
	// A sanitizer's report must show as a signal, not as exit 1 (32768).
	ScopedEnv asan("ASAN_OPTIONS", "abort_on_error=1:verify_asan_link_order=0");
	ScopedEnv ubsan("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_stacktrace=1");
	const std::vector<std::string> vm_keys = every_key_retyped(vm_orig);
	const std::vector<std::string> job_keys = every_key_retyped(job_orig);
	const size_t fixed = vm_keys.size() + job_keys.size();
	const int n = (int)fixed + rt::rounds(40, 600);
	std::mt19937 g(20261125);
	for (int i = 0; i < n && !HasFatalFailure(); i++) {
		bool vm = (size_t)i < fixed ? (size_t)i < vm_keys.size() : i % 2 == 0;
		std::string how = "top-level key retyped";
		std::string text = (size_t)i < vm_keys.size() ? vm_keys[i] :
				   (size_t)i < fixed          ? job_keys[i - vm_keys.size()] :
						       mutate(vm ? vm_orig : job_orig, g, how);
		write_file(vm_file, vm ? text : vm_orig);
		write_file(job_file, vm ? job_orig : text);
		run_readers(std::string(vm ? "vm.json " : "job.json ") + how + " (round " +
			    std::to_string(i) + ")");
	}
}

// JSON schema 2 renamed the three meanings of GenerationId (NEWS); a store
// written with the old key still loads, under the new names, with the same
// values, and the next write of the record uses the new names only.
TEST_F(RecordFuzz, SchemaOneGenerationIdStillLoads)
{
	auto replace_all = [](std::string s, const std::string &from, const std::string &to) {
		for (size_t at = s.find(from); at != std::string::npos;
		     at = s.find(from, at + to.size()))
			s.replace(at, from.size(), to);
		return s;
	};
	ASSERT_NE(vm_orig.find("\"TargetGenerationId\""), std::string::npos) << vm_orig;
	ASSERT_NE(vm_orig.find("\"ImageGenerationId\""), std::string::npos) << vm_orig;
	ASSERT_NE(vm_orig.find("\"BaseGenerationId\""), std::string::npos) << vm_orig;
	std::string old = vm_orig;
	for (const char *k :
	     { "\"TargetGenerationId\"", "\"ImageGenerationId\"", "\"BaseGenerationId\"" })
		old = replace_all(old, k, "\"GenerationId\"");
	write_file(vm_file, old);

	json_object *vm = vm_show("vm");
	ASSERT_NE(vm, nullptr);
	json_object *orig = json_tokener_parse(vm_orig.c_str());
	auto disk0 = [](json_object *v) {
		return json_object_array_get_idx(json_object_object_get(v, "Disks"), 0);
	};
	json_object *d = disk0(vm), *od = disk0(orig);
	EXPECT_EQ(jstr(d, "TargetGenerationId"), jstr(od, "TargetGenerationId"));
	EXPECT_EQ(json_object_object_get(d, "GenerationId"), nullptr);
	CliRun r = ctl({ "recovery-point", "show", "vm", "rp2" });
	json_object *rd =
		json_object_array_get_idx(json_object_object_get(r.obj("RecoveryPoint"), "Disks"),
					  0);
	EXPECT_EQ(jstr(json_object_object_get(rd, "ChangeRecord"), "BaseGenerationId"),
		  "00000000000000000000000000000001");
	r = ctl({ "recovery-point", "show", "vm", "rp1" });
	rd = json_object_array_get_idx(json_object_object_get(r.obj("RecoveryPoint"), "Disks"), 0);
	EXPECT_EQ(jstr(rd, "ImageGenerationId"), "0123456789abcdef0123456789abcdef");
	json_object_put(orig);

	ASSERT_EQ(ctl({ "failover", "vm", "--recovery-point", "rp2" }).rv, 0u);
	std::string now = read_file(vm_file);
	EXPECT_EQ(now.find("\"GenerationId\""), std::string::npos) << now;
	EXPECT_NE(now.find("\"TargetGenerationId\""), std::string::npos) << now;
	EXPECT_NE(now.find("\"ImageGenerationId\""), std::string::npos) << now;
}
