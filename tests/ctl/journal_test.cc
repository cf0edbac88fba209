// SPDX-License-Identifier: MIT
// The event journal (issue 10): a failback's events in order, ids across
// concurrent appending processes, torn tails, a worker killed with -9,
// ctl_journal_wait woken by another process, retention, `resyncctl events`
// and a journal that cannot be written (the store_fault shim).
#include "harness.h"
#include "testutil.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include "stress.h"
extern "C" {
#include "journal.h"
#include "store.h"
}

namespace {

const char *const kSeg1 = "/events/00000000000000000001.jsonl";

class Journal : public CtlTest {
protected:
	void TearDown() override
	{
		if (opened)
			ctl_store_close(&st);
		CtlTest::TearDown();
	}
	struct ctl_store *store()
	{
		if (!opened) {
			EXPECT_EQ(ctl_store_open(&st, state.c_str()), 0);
			opened = true;
		}
		return &st;
	}
	// Every event kept, oldest first; the test fails when the read does.
	std::vector<json_object *> events(uint64_t after = 0)
	{
		json_object *arr = nullptr;
		uint64_t oldest = 0;
		int n = ctl_journal_read(store(), after, 1000000, &arr, &oldest);
		EXPECT_GE(n, 0) << strerror(-n);
		std::vector<json_object *> out;
		if (n < 0)
			return out;
		keep.push_back(arr);
		for (int i = 0; i < n; i++)
			out.push_back(json_object_array_get_idx(arr, (size_t)i));
		return out;
	}
	uint64_t append(const std::string &kind, int writer = 0, int seq = 0)
	{
		json_object *ev = json_object_new_object();
		json_object_object_add(ev, "Kind", json_object_new_string(kind.c_str()));
		json_object_object_add(ev, "Writer", json_object_new_int(writer));
		json_object_object_add(ev, "Seq", json_object_new_int(seq));
		uint64_t id = 0;
		int err = ctl_journal_append(store(), ev, &id);
		json_object_put(ev);
		EXPECT_EQ(err, 0) << strerror(-err);
		return id;
	}
	// A JobCreated of VM "vm", as a job's creator appends it, naming the
	// job under key ("JobId"; "Job" in 0.2.0's journals); *cid its cursor.
	void job_created(const std::string &id, const char *key, uint64_t *cid)
	{
		json_object *ev = json_object_new_object();
		json_object_object_add(ev, "Kind", json_object_new_string("JobCreated"));
		json_object_object_add(ev, "VirtualSystem", json_object_new_string("vm"));
		json_object_object_add(ev, key, json_object_new_string(id.c_str()));
		int err = ctl_journal_append(store(), ev, cid);
		json_object_put(ev);
		ASSERT_EQ(err, 0) << strerror(-err);
	}
	// A Replica VM "vm" failed over to recovery point rp1 (random bytes).
	void failed_over(size_t size)
	{
		add_vm("vm", size);
		ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp1", "--disk",
				"d0=" + make_image("rp1.img", size, 7) })
				  .rv,
			  0u);
		ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	}
	struct ctl_store st = {};
	bool opened = false;
};

int64_t prop(json_object *ev, const char *key)
{
	return jnum(json_object_object_get(ev, "Properties"), key);
}

bool changed(json_object *ev, const std::string &key)
{
	json_object *c = json_object_object_get(ev, "Changed");
	for (size_t i = 0; i < json_object_array_length(c); i++)
		if (key == json_object_get_string(json_object_array_get_idx(c, i)))
			return true;
	return false;
}

// Ids 1, 2, 3...: no gap, no repeat.
void expect_consecutive(const std::vector<json_object *> &evs, uint64_t first)
{
	for (size_t i = 0; i < evs.size(); i++)
		ASSERT_EQ((uint64_t)jnum(evs[i], "Id"), first + i) << "event " << i;
}

void append_raw(const std::string &file, const std::string &bytes)
{
	std::ofstream f(file, std::ios::binary | std::ios::app);
	f << bytes;
}

// The first number of /proc/PID/syscall: the call the process sleeps in.
long current_syscall(pid_t pid)
{
	std::ifstream f("/proc/" + std::to_string(pid) + "/syscall");
	long nr = -1;
	f >> nr;
	return nr;
}

bool in_poll(pid_t pid)
{
	long nr = current_syscall(pid);
#ifdef SYS_poll
	if (nr == SYS_poll)
		return true;
#endif
	return nr == SYS_ppoll;
}

// waitpid with a bound: the exit status, or -1 after timeout_ms (child killed).
int wait_exit(pid_t pid, int timeout_ms)
{
	auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
	int status;
	while (std::chrono::steady_clock::now() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

} // namespace

// A failback's lifecycle, in the order it happened: the VM registered,
// failed over, the job created, the VM waiting, the copy, and last the VM
// at 14 Failback complete and then the job at 7 Completed with 100 %.
TEST_F(Journal, FailbackLifecycleEventsInOrder)
{
	failed_over(4 << 20);
	CliRun r = ctl({ "failback", "vm", "--wait", "--timeout", "60" });
	ASSERT_EQ(r.rv, 0u) << r.out << r.err;
	std::string job = r.str("JobId");

	std::vector<json_object *> evs = events();
	expect_consecutive(evs, 1);
	std::vector<std::string> seen;
	for (json_object *e : evs) {
		std::string k = jstr(e, "Kind");
		EXPECT_EQ(jstr(e, "VirtualSystem"), "vm");
		if (k.rfind("Job", 0) == 0) {
			EXPECT_EQ(jstr(e, "JobId"), job);
			k += " " + std::to_string(prop(e, "JobState"));
		} else {
			k += " " + std::to_string(prop(e, "ReplicationState"));
		}
		if (seen.empty() || seen.back() != k)
			seen.push_back(k);
	}
	// PercentComplete steps repeat "JobChanged 4"; folded above.
	std::vector<std::string> want = { "VmAdded 3",       "Failover 5",   "JobCreated 2",
					  "VmChanged 32768", "JobChanged 3", "VmChanged 13",
					  "JobChanged 4",    "VmChanged 14", "JobChanged 7" };
	EXPECT_EQ(seen, want);
	json_object *last = evs.back();
	EXPECT_EQ(prop(last, "JobState"), 7);
	EXPECT_EQ(prop(last, "PercentComplete"), 100);
	EXPECT_EQ(prop(last, "ErrorCode"), 0);
	EXPECT_TRUE(changed(last, "JobState"));
	EXPECT_EQ(prop(evs[evs.size() - 2], "ReplicationState"), 14);
	EXPECT_EQ(prop(evs[evs.size() - 2], "ReplicationHealth"), 1);
	EXPECT_EQ(jstr(evs[1], "Kind"), "Failover");
	EXPECT_EQ(jstr(json_object_object_get(evs[1], "Properties"), "FailedOverTo"), "rp1");
	// Every event says when, in both forms.
	for (json_object *e : evs) {
		EXPECT_EQ(jstr(e, "Time").size(), 20u);
		EXPECT_GT(jnum(e, "TimeEpochNs"), 0);
		EXPECT_EQ(json_object_object_get(e, "Xxh64"), nullptr);
	}

	// Removing the job and the VM are events too.
	ASSERT_EQ(ctl({ "job", "remove", job }).rv, 0u);
	ASSERT_EQ(ctl({ "vm", "remove", "vm" }).rv, 0u);
	std::vector<json_object *> tail = events(evs.size());
	ASSERT_EQ(tail.size(), 2u);
	EXPECT_EQ(jstr(tail[0], "Kind"), "JobRemoved");
	EXPECT_EQ(prop(tail[0], "JobState"), 7);
	EXPECT_EQ(jstr(tail[1], "Kind"), "VmRemoved");
	EXPECT_EQ(prop(tail[1], "ReplicationState"), 14);
}

// N processes appending M events each at once: N x M events, ids 1..N x M
// with none lost or repeated, each writer's events in its own order.
TEST_F(Journal, IdsStrictlyIncreaseAcrossConcurrentProcesses)
{
	const int n = 6, m = rt::rounds(150, 1500);
	store();
	std::vector<pid_t> kids;
	for (int w = 0; w < n; w++) {
		pid_t pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			struct ctl_store s;
			int bad = ctl_store_open(&s, state.c_str()) < 0;
			for (int i = 0; i < m && !bad; i++) {
				json_object *ev = json_object_new_object();
				json_object_object_add(ev, "Kind", json_object_new_string("Test"));
				json_object_object_add(ev, "Writer", json_object_new_int(w));
				json_object_object_add(ev, "Seq", json_object_new_int(i));
				bad = ctl_journal_append(&s, ev, nullptr) < 0;
				json_object_put(ev);
			}
			_exit(bad);
		}
		kids.push_back(pid);
	}
	for (pid_t pid : kids)
		EXPECT_EQ(wait_exit(pid, 120000), 0);
	std::vector<json_object *> evs = events();
	ASSERT_EQ(evs.size(), (size_t)(n * m));
	expect_consecutive(evs, 1);
	std::vector<int> next(n, 0);
	for (json_object *e : evs) {
		int w = (int)jnum(e, "Writer");
		ASSERT_TRUE(w >= 0 && w < n);
		EXPECT_EQ(jnum(e, "Seq"), next[w]) << "writer " << w;
		next[w]++;
	}
	for (int w = 0; w < n; w++)
		EXPECT_EQ(next[w], m);
	uint64_t last = 0;
	ASSERT_EQ(ctl_journal_last(store(), &last), 0);
	EXPECT_EQ(last, (uint64_t)(n * m));
}

// What a kill or a crash leaves at the end of the segment -- a line cut
// short, a whole line of garbage, a line whose checksum does not match,
// zeros from an extended but unwritten file -- is not an event: readers
// skip it, the next appender cuts it and takes the next id.
TEST_F(Journal, TornTailIsSkippedAndTheNextAppendTakesTheNextId)
{
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(append("Test", 0, i), (uint64_t)i + 1);
	const std::string seg = state + kSeg1;
	const std::string clean = read_file(seg);
	std::vector<std::string> l = rt::lines(clean);
	ASSERT_EQ(l.size(), 3u);
	// A valid line with one byte changed: the checksum catches it.
	std::string forged = l[2];
	forged.replace(forged.find("\"Seq\":2"), 7, "\"Seq\":3");
	forged.replace(6, 1, "4");
	const std::string tails[] = {
		l[0].substr(0, l[0].size() / 2),
		"garbage\n",
		forged + "\n",
		std::string(300, '\0'),
	};
	uint64_t id = 3;
	for (const std::string &t : tails) {
		append_raw(seg, t);
		std::vector<json_object *> evs = events();
		ASSERT_EQ(evs.size(), id);
		expect_consecutive(evs, 1);
		uint64_t last = 0;
		ASSERT_EQ(ctl_journal_last(store(), &last), 0);
		EXPECT_EQ(last, id);
		EXPECT_EQ(append("After"), ++id);
		std::vector<std::string> now = rt::lines(read_file(seg));
		ASSERT_EQ(now.size(), id) << "the torn tail is gone";
		EXPECT_NE(now.back().find("\"Id\":" + std::to_string(id) + ","), std::string::npos);
	}
	EXPECT_EQ(read_file(seg).substr(0, clean.size()), clean);
	expect_consecutive(events(), 1);
}

// A damaged line with valid events after it is not a torn tail: appending
// fails with -EBADMSG and leaves the segment byte for byte, reading fails
// the same way, and a change through the CLI is refused (32768) with a
// message naming the damage; the events after the damage keep their ids.
TEST_F(Journal, DamagedMiddleLineFailsAndChangesNothing)
{
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(append("Test", 0, i), (uint64_t)i + 1);
	const std::string seg = state + kSeg1;
	std::string text = read_file(seg);
	size_t at = text.find("\"Seq\":1");
	ASSERT_NE(at, std::string::npos);
	text[at + 6] = '7';
	{
		std::ofstream f(seg, std::ios::binary | std::ios::trunc);
		f << text;
	}
	json_object *ev = json_object_new_object();
	json_object_object_add(ev, "Kind", json_object_new_string("After"));
	uint64_t id = 0;
	EXPECT_EQ(ctl_journal_append(store(), ev, &id), -EBADMSG);
	json_object_put(ev);
	EXPECT_EQ(read_file(seg), text) << "the journal was modified";
	json_object *arr = nullptr;
	uint64_t oldest = 0;
	EXPECT_EQ(ctl_journal_read(store(), 0, 100, &arr, &oldest), -EBADMSG);
	EXPECT_EQ(arr, nullptr);

	CliRun r = ctl({ "vm", "add", "other", "--disk", "d0=" + path("other.img") });
	EXPECT_EQ(r.rv, 32768u) << r.out;
	EXPECT_NE(r.str("ErrorDescription").find("damaged line with events after it"),
		  std::string::npos)
		<< r.out;
	EXPECT_EQ(read_file(seg), text) << "the journal was modified";
	EXPECT_EQ(ctl({ "vm", "show", "other" }).rv, 32773u);
	CliRun c = ctl({ "events" });
	EXPECT_EQ(c.rv, 32768u) << c.out;

	// The torn tail alone is still repaired: the damaged line removed by
	// hand, the lines after it are acknowledged events and stay.
	std::vector<std::string> l = rt::lines(text);
	ASSERT_EQ(l.size(), 3u);
	{
		std::ofstream f(seg, std::ios::binary | std::ios::trunc);
		f << l[0] << "\n" << l[1].substr(0, 20);
	}
	EXPECT_EQ(append("After"), 2u);
	expect_consecutive(events(), 1);
}

// A worker killed with -9 mid-job: the reader that finds its lock free
// records JobState 10 with ErrorCode 32771, and those are the job's last
// events, followed by the VM's health turning Critical.
TEST_F(Journal, KillNineOfTheWorkerStillYieldsTheFinalEvents)
{
	failed_over(4 << 20);
	CliRun r = ctl({ "failback", "vm", "--settings", R"({"rate_limit":262144})" });
	ASSERT_EQ(r.rv, 4096u) << r.out;
	std::string job = r.str("JobId");
	json_object *j = wait_job(job, [](json_object *o) { return jnum(o, "JobState") == 4; });
	ASSERT_NE(j, nullptr);
	ASSERT_EQ(kill((pid_t)jnum(j, "WorkerPid"), SIGKILL), 0);
	CliRun w = ctl({ "job", "wait", job, "--timeout", "30" });
	EXPECT_EQ(w.rv, 32771u) << w.out;

	std::vector<json_object *> evs = events();
	expect_consecutive(evs, 1);
	json_object *last_job = nullptr, *last_vm = nullptr;
	for (json_object *e : evs)
		(jstr(e, "Kind").rfind("Job", 0) == 0 ? last_job : last_vm) = e;
	ASSERT_NE(last_job, nullptr);
	ASSERT_NE(last_vm, nullptr);
	EXPECT_EQ(prop(last_job, "JobState"), 10);
	EXPECT_EQ(prop(last_job, "ErrorCode"), 32771);
	EXPECT_TRUE(changed(last_job, "JobState"));
	EXPECT_TRUE(changed(last_job, "ErrorCode"));
	EXPECT_EQ(prop(last_vm, "ReplicationHealth"), 3);
	EXPECT_EQ(prop(last_vm, "ReplicationState"), 13);
	EXPECT_GT(jnum(last_vm, "Id"), jnum(last_job, "Id"));
	// The newest events agree with the records.
	EXPECT_EQ(prop(last_job, "JobState"), jnum(job_show(job), "JobState"));
	EXPECT_EQ(prop(last_vm, "ReplicationHealth"), jnum(vm_show("vm"), "ReplicationHealth"));
}

// ctl_journal_wait in one process, asleep in poll, is woken by an append
// from another (resyncctl vm add): inotify, not a timeout -- it waits for
// ever, so only the wake-up can end it.
TEST_F(Journal, WaitWakesOnAnotherProcessesAppend)
{
	add_vm("a", 1 << 20);
	uint64_t last = 0;
	ASSERT_EQ(ctl_journal_last(store(), &last), 0);
	ASSERT_EQ(last, 1u);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct ctl_store s;
		if (ctl_store_open(&s, state.c_str()) < 0)
			_exit(2);
		_exit(ctl_journal_wait(&s, last, -1) == 1 ? 0 : 1);
	}
	auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
	while (!in_poll(pid) && std::chrono::steady_clock::now() < end)
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	ASSERT_TRUE(in_poll(pid)) << "the waiter never slept in poll";
	add_vm("b", 1 << 20);
	EXPECT_EQ(wait_exit(pid, 60000), 0);
	// Already there: no wait at all; nothing newer: the timeout.
	EXPECT_EQ(ctl_journal_wait(store(), last, -1), 1);
	EXPECT_EQ(ctl_journal_wait(store(), last + 1, 0), 0);
}

// Segments of ~1 KiB, three kept: the oldest go, the read says which id is
// the oldest kept, and asking for what went is -ERANGE (32773 from the CLI).
TEST_F(Journal, RetentionDropsTheOldestAndReadReportsIt)
{
	ScopedEnv bytes("RESYNC_JOURNAL_SEGMENT_BYTES", "1024");
	ScopedEnv segs("RESYNC_JOURNAL_SEGMENTS", "3");
	for (int i = 0; i < 100; i++)
		ASSERT_EQ(append("Test", 0, i), (uint64_t)i + 1);
	std::vector<std::string> names;
	DIR *d = opendir((state + "/events").c_str());
	ASSERT_NE(d, nullptr);
	for (struct dirent *de; (de = readdir(d));)
		if (strstr(de->d_name, ".jsonl"))
			names.push_back(de->d_name);
	closedir(d);
	EXPECT_EQ(names.size(), 3u);
	struct stat sb;
	EXPECT_NE(stat((state + kSeg1).c_str(), &sb), 0) << "the oldest segment is gone";

	json_object *arr = nullptr;
	uint64_t oldest = 0;
	int n = ctl_journal_read(store(), 0, 1000, &arr, &oldest);
	ASSERT_GT(n, 0);
	EXPECT_GT(oldest, 1u);
	EXPECT_EQ((uint64_t)jnum(json_object_array_get_idx(arr, 0), "Id"), oldest);
	EXPECT_EQ((uint64_t)n, 100 - oldest + 1);
	json_object_put(arr);
	EXPECT_EQ(ctl_journal_read(store(), 1, 10, &arr, &oldest), -ERANGE);
	EXPECT_EQ(arr, nullptr);
	EXPECT_EQ(ctl_journal_read(store(), oldest - 2, 10, &arr, &oldest), -ERANGE);
	EXPECT_EQ(ctl_journal_read(store(), 101, 10, &arr, &oldest), -ERANGE)
		<< "past the newest: a reset journal";
	// The first event still kept, in batches of max.
	n = ctl_journal_read(store(), oldest - 1, 5, &arr, &oldest);
	ASSERT_EQ(n, 5);
	EXPECT_EQ((uint64_t)jnum(json_object_array_get_idx(arr, 0), "Id"), oldest);
	json_object_put(arr);
	EXPECT_EQ(ctl_journal_read(store(), 100, 5, &arr, &oldest), 0);
	json_object_put(arr);

	CliRun r = ctl_text({ "events", "--after", "1" });
	EXPECT_EQ(r.rv, 32773u) << r.out;
	EXPECT_EQ(r.status, 6);
	EXPECT_NE(r.err.find("not all in the journal"), std::string::npos) << r.err;
	EXPECT_EQ(append("More"), 101u) << "ids go on after retention";
}

// resyncctl events: human lines, JSON lines with the ReturnValue last,
// --after, and --follow printing what another process appends until SIGINT.
TEST_F(Journal, CliPrintsAndFollowsTheJournal)
{
	add_vm("a", 1 << 20);
	CliRun h = ctl_text({ "events" });
	EXPECT_EQ(h.status, 0);
	std::vector<std::string> hl = rt::lines(h.out);
	ASSERT_EQ(hl.size(), 2u) << h.out;
	EXPECT_EQ(hl[0].substr(0, 2), "1 ");
	EXPECT_NE(hl[0].find(" VmAdded a ReplicationState=3 ReplicationHealth=1"), std::string::npos)
		<< hl[0];
	EXPECT_EQ(hl[1], "ReturnValue: 0");

	add_vm("b", 1 << 20);
	CliRun j =
		run_cmd(ctl_binary(), { "--state-dir", state, "events", "--json", "--after", "1" });
	std::vector<std::string> jl = rt::lines(j.out);
	ASSERT_EQ(jl.size(), 2u) << j.out;
	json_object *ev = json_tokener_parse(jl[0].c_str());
	ASSERT_NE(ev, nullptr);
	EXPECT_EQ(jnum(ev, "Id"), 2);
	EXPECT_EQ(jstr(ev, "VirtualSystem"), "b");
	json_object_put(ev);
	EXPECT_EQ(jl[1], "{\"ReturnValue\":0,\"SchemaVersion\":2}");

	CliRun bad = ctl_text({ "events", "--after", "x" });
	EXPECT_EQ(bad.rv, 32773u);

	std::string out = path("follow.out");
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		execl(ctl_binary().c_str(), "resyncctl", "--state-dir", state.c_str(), "events",
		      "--follow", "--after", "2", (char *)nullptr);
		_exit(127);
	}
	add_vm("c", 1 << 20);
	auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
	while (read_file(out).find(" VmAdded c ") == std::string::npos &&
	       std::chrono::steady_clock::now() < end)
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	kill(pid, SIGINT);
	EXPECT_EQ(wait_exit(pid, 60000), 0);
	std::vector<std::string> fl = rt::lines(read_file(out));
	ASSERT_EQ(fl.size(), 2u) << read_file(out);
	EXPECT_EQ(fl[0].substr(0, 2), "3 ");
	EXPECT_EQ(fl[1], "ReturnValue: 0");
}

// A journal that cannot be written (ENOSPC on its segment): the change is
// refused with the failure's return value, the record and the journal stay
// as they were, no torn bytes are left, and the next append takes the next
// id.  A record write failing after its event was journaled is followed by
// an event restoring what the record holds.
TEST_F(Journal, EnospcFailsTheChangeAndLeavesBothAlone)
{
	failed_over(1 << 20);
	const std::string seg = state + kSeg1;
	std::string before = snapshot("vm", {}), jbefore = read_file(seg);
	{
		ScopedEnv pre("LD_PRELOAD", shim_path("store_fault"));
		ScopedEnv w("RESYNC_FAULT_WRITE", ".jsonl");
		CliRun r = ctl({ "failover", "vm", "--commit" });
		EXPECT_EQ(r.rv, 32768u) << r.out;
		EXPECT_NE(r.str("ErrorDescription").find("journaling the change"), std::string::npos)
			<< r.out;
		CliRun v = ctl({ "vm", "add", "other", "--disk", "d0=" + path("other.img") });
		EXPECT_EQ(v.rv, 32768u) << v.out;
	}
	EXPECT_EQ(snapshot("vm", {}), before);
	EXPECT_EQ(ctl({ "vm", "show", "other" }).rv, 32773u);
	EXPECT_EQ(read_file(seg), jbefore);
	uint64_t last = 0;
	ASSERT_EQ(ctl_journal_last(store(), &last), 0);
	EXPECT_EQ(last, 2u);

	// The record's rename fails after its event was journaled.
	{
		ScopedEnv pre("LD_PRELOAD", shim_path("store_fault"));
		ScopedEnv w("RESYNC_FAULT_RENAME", "vm.json");
		CliRun r = ctl({ "failover", "vm", "--commit" });
		EXPECT_EQ(r.rv, 32768u) << r.out;
	}
	EXPECT_EQ(snapshot("vm", {}), before);
	std::vector<json_object *> evs = events(2);
	ASSERT_EQ(evs.size(), 2u);
	EXPECT_EQ(jstr(evs[0], "Kind"), "VmChanged");
	EXPECT_EQ(prop(evs[0], "ReplicationState"), 6);
	EXPECT_EQ(jstr(evs[1], "Kind"), "VmChanged");
	EXPECT_EQ(prop(evs[1], "ReplicationState"), 5);
	EXPECT_TRUE(changed(evs[1], "ReplicationState"));

	ASSERT_EQ(ctl({ "failover", "vm", "--commit" }).rv, 0u);
	std::vector<json_object *> after = events(4);
	ASSERT_EQ(after.size(), 1u);
	EXPECT_EQ(jnum(after[0], "Id"), 5);
	EXPECT_EQ(prop(after[0], "ReplicationState"), 6);
}

// A worker that cannot journal (ENOSPC on the segment in the worker only)
// makes no change it cannot show: it never marks the VM in progress, so it
// never writes the target, and once it has exited the reaper (a process
// that can journal) records the job as 10 / 32771 with its events.
TEST_F(Journal, WorkerThatCannotJournalChangesNothing)
{
	failed_over(1 << 20);
	const std::string target = path("vm-target.img");
	const std::string zeros = read_file(target);
	std::string job;
	{
		ScopedEnv pre("LD_PRELOAD", shim_path("store_fault"));
		ScopedEnv w("RESYNC_FAULT_WRITE", ".jsonl");
		ScopedEnv c("RESYNC_FAULT_WORKER_ONLY", "1");
		CliRun r = ctl({ "failback", "vm" });
		ASSERT_EQ(r.rv, 4096u) << r.out;
		job = r.str("JobId");
	}
	CliRun w = ctl({ "job", "wait", job, "--timeout", "60" });
	EXPECT_EQ(w.rv, 32771u) << w.out;
	EXPECT_EQ(read_file(target), zeros);
	json_object *vm = vm_show("vm");
	EXPECT_EQ(jnum(vm, "ReplicationState"), 32768);
	EXPECT_EQ(jnum(vm, "ReplicationHealth"), 3);

	std::vector<json_object *> evs = events();
	expect_consecutive(evs, 1);
	ASSERT_GE(evs.size(), 3u);
	json_object *j = evs[evs.size() - 2], *v = evs.back();
	EXPECT_EQ(jstr(j, "Kind"), "JobChanged");
	EXPECT_EQ(prop(j, "JobState"), 10);
	EXPECT_EQ(prop(j, "ErrorCode"), 32771);
	EXPECT_EQ(jstr(v, "Kind"), "VmChanged");
	EXPECT_EQ(prop(v, "ReplicationState"), 32768);
	EXPECT_EQ(prop(v, "ReplicationHealth"), 3);
	for (json_object *e : evs)
		EXPECT_NE(prop(e, "ReplicationState"), 13) << "the worker journaled nothing";
}

// A creator killed between JobCreated and the job's first record leaves a
// folder without job.json; the sweep that removes it journals JobRemoved
// with the VM its JobCreated named (so a ?vm= stream sees it), so the
// journal's last word on that job is that it is gone.
TEST_F(Journal, SweptJobFolderIsJournaledAsRemoved)
{
	add_vm("vm", 1 << 20);
	const std::string id = "0b1f6a52-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
	uint64_t cid = 0;
	ASSERT_NO_FATAL_FAILURE(job_created(id, "JobId", &cid));
	ASSERT_EQ(mkdir((state + "/jobs/" + id).c_str(), 0700), 0);
	ASSERT_EQ(ctl({ "vm", "list" }).rv, 0u);
	struct stat sb;
	EXPECT_NE(stat((state + "/jobs/" + id).c_str(), &sb), 0) << "swept";
	std::vector<json_object *> evs = events(cid);
	ASSERT_EQ(evs.size(), 1u);
	EXPECT_EQ(jstr(evs[0], "Kind"), "JobRemoved");
	EXPECT_EQ(jstr(evs[0], "JobId"), id);
	EXPECT_EQ(jstr(evs[0], "VirtualSystem"), "vm");
}

// A journal 0.2.0 wrote names a job event's id "Job": it reads back as
// "JobId", so streams, ?job= filters and the sweep's VM lookup see it.
TEST_F(Journal, JobKeyOf020IsReadAsJobId)
{
	add_vm("vm", 1 << 20);
	const std::string id = "2b1f6a52-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
	uint64_t cid = 0;
	ASSERT_NO_FATAL_FAILURE(job_created(id, "Job", &cid));
	std::vector<json_object *> evs = events(cid - 1);
	ASSERT_EQ(evs.size(), 1u);
	EXPECT_EQ(jstr(evs[0], "JobId"), id);
	EXPECT_FALSE(json_object_object_get_ex(evs[0], "Job", nullptr));
	ASSERT_EQ(mkdir((state + "/jobs/" + id).c_str(), 0700), 0);
	ASSERT_EQ(ctl({ "vm", "list" }).rv, 0u);
	evs = events(cid);
	ASSERT_EQ(evs.size(), 1u);
	EXPECT_EQ(jstr(evs[0], "Kind"), "JobRemoved");
	EXPECT_EQ(jstr(evs[0], "VirtualSystem"), "vm");
}

// Write-ahead (journal.h): a sweep that cannot journal JobRemoved leaves
// the folder, so no job disappears without its event; the next sweep that
// can journal removes it.
TEST_F(Journal, SweepThatCannotJournalKeepsTheFolder)
{
	add_vm("vm", 1 << 20);
	const std::string id = "1b1f6a52-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
	const std::string jdir = state + "/jobs/" + id;
	ASSERT_EQ(mkdir(jdir.c_str(), 0700), 0);
	const std::string jbefore = read_file(state + kSeg1);
	struct stat sb;
	{
		ScopedEnv pre("LD_PRELOAD", shim_path("store_fault"));
		ScopedEnv w("RESYNC_FAULT_WRITE", ".jsonl");
		ctl({ "vm", "list" });
	}
	EXPECT_EQ(stat(jdir.c_str(), &sb), 0) << "removed without its JobRemoved";
	EXPECT_EQ(read_file(state + kSeg1), jbefore);
	ASSERT_EQ(ctl({ "vm", "list" }).rv, 0u);
	EXPECT_NE(stat(jdir.c_str(), &sb), 0) << "swept";
	std::vector<json_object *> evs = events();
	ASSERT_FALSE(evs.empty());
	EXPECT_EQ(jstr(evs.back(), "Kind"), "JobRemoved");
	EXPECT_EQ(jstr(evs.back(), "JobId"), id);
}
