// SPDX-License-Identifier: MIT
// InitiateFailback's synchronous probe of NBD targets that stop answering:
// one whose server is stopped (SIGSTOP) answers 32772 within the connect
// timeout (the settings' nbd_connect_timeout_ms) and changes nothing; one that takes a minute to close a connection
// (nbdkit's delay-close, what nbd_shutdown() waited for without a bound, so a
// server stopped after the handshake held the probe forever) does not hold
// the call or the job.
#include <signal.h>
#include <sys/wait.h>
#include <chrono>
#include "harness.h"

namespace {

constexpr size_t kSize = 4 << 20;

class ProbeStall : public CtlTest {};

TEST_F(ProbeStall, StoppedNbdServerIsATimeoutNotAHang)
{
	std::string sock = path("tgt.sock");
	pid_t nbdkit = start_nbdkit(sock, { "memory", std::to_string(kSize) });
	if (nbdkit < 0)
		GTEST_SKIP() << "nbdkit not available";
	std::string rp = make_image("rp.img", kSize, 21);
	ASSERT_EQ(ctl({ "vm", "add", "vm", "--disk", "d0=nbd+unix:///?socket=" + sock }).rv, 0u);
	ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp", "--disk", "d0=" + rp }).rv, 0u);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	std::string before = snapshot("vm", {});
	ASSERT_EQ(kill(nbdkit, SIGSTOP), 0);
	// timeout(1) bounds the old hang, so it fails the test instead of the suite.
	auto start = std::chrono::steady_clock::now();
	CliRun r = run_cmd("/usr/bin/timeout", { "-s", "KILL", "90", ctl_binary(), "--state-dir",
						 state, "--json", "failback", "vm", "--settings",
						 R"({"nbd_connect_timeout_ms":1500})" });
	double secs =
		std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	kill(nbdkit, SIGCONT);
	EXPECT_EQ(r.rv, 32772u) << "exit " << r.status << " after " << secs << " s\n"
				<< r.out << r.err;
	EXPECT_NE(r.str("ErrorDescription")
			  .find("connect: no answer from the server within 1500 ms"),
		  std::string::npos)
		<< r.out;
	EXPECT_EQ(snapshot("vm", {}), before);
	stop_process(nbdkit);
}

TEST_F(ProbeStall, ServerSlowToCloseHoldsNeitherTheCallNorTheJob)
{
	std::string sock = path("tgt.sock");
	pid_t nbdkit = start_nbdkit(sock, { "--filter=delay", "memory", std::to_string(kSize),
					    "delay-close=60" });
	if (nbdkit < 0)
		GTEST_SKIP() << "nbdkit not available";
	std::string rp = make_image("rp.img", kSize, 22);
	ASSERT_EQ(ctl({ "vm", "add", "vm", "--disk", "d0=nbd+unix:///?socket=" + sock }).rv, 0u);
	ASSERT_EQ(ctl({ "recovery-point", "add", "vm", "rp", "--disk", "d0=" + rp }).rv, 0u);
	ASSERT_EQ(ctl({ "failover", "vm" }).rv, 0u);
	auto start = std::chrono::steady_clock::now();
	CliRun r = run_cmd("/usr/bin/timeout", { "-s", "KILL", "90", ctl_binary(), "--state-dir",
						 state, "--json", "failback", "vm" });
	double secs =
		std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	ASSERT_EQ(r.rv, 4096u) << "exit " << r.status << " after " << secs << " s\n"
			       << r.out << r.err;
	// The minute the server takes to close is not waited for.
	EXPECT_LT(secs, 30.0);
	CliRun w = ctl({ "job", "wait", r.str("JobId"), "--timeout", "40" });
	EXPECT_EQ(w.rv, 0u) << w.out;
	EXPECT_EQ(jnum(vm_show("vm"), "ReplicationState"), 14);
	// nbdkit would wait out the delayed closes before exiting on SIGTERM.
	kill(nbdkit, SIGKILL);
	stop_process(nbdkit);
}

} // namespace
