/* SPDX-License-Identifier: MIT */
/*
 * Starting a job's worker: a double fork and setsid so it outlives its
 * caller, with only the job's lock (fd 3) and a ready pipe (fd 4) kept open,
 * then an exec of the caller's own program as `PROGRAM --worker STORE JOB`.
 * The exec is what makes a worker started by resyncd sound: the child of a
 * threaded process may only make async-signal-safe calls (another thread
 * may have held the NSS, syslog or a library's lock at the fork), and a
 * worker needs all of those.  ctl_worker_entry() is the new image's main:
 * its signal state, then the process's setup (log file, syslog, signalfd)
 * around worker_run_job().
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>
#include "clock.h"
#include "job.h"
#include "settings.h"
#include "worker.h"
#include "worker_internal.h"

/* The blocked signals the worker takes through its signalfd. */
static void worker_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGTERM);
}

static int worker_main(const char *path, const char *id, int ready_fd)
{
	struct worker w = { .id = id, .logfd = -1, .wake = { -1, -1 } };
	sigset_t set;
	int sfd, dfd, rc;
	uint32_t rv;

	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.start_ns = rc_now_ns();
	openlog("resyncctl", LOG_PID, LOG_DAEMON);
	if (ctl_store_open(&w.st, path) < 0)
		return 2;
	dfd = ctl_open_dir(w.st.jobs, id);
	if (dfd >= 0) {
		w.logfd = openat(dfd, "log", O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
				 0600);
		if (w.logfd >= 0)
			dup2(w.logfd, STDERR_FILENO);
		close(dfd);
	}
	rv = ctl_job_load(&w.st, id, &w.job, NULL);
	if (rv) {
		syslog(LOG_ERR, "job %s: record unreadable", id);
		return 2;
	}
	worker_signals(&set);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	rc = worker_run_job(&w, sfd, ready_fd);
	json_object_put(w.job);
	ctl_settings_free(&w.set);
	free(w.disks);
	ctl_store_close(&w.st);
	closelog();
	return rc;
}

int ctl_worker_entry(int argc, char **argv)
{
	struct stat lock, ready;
	sigset_t set;

	if (argc < 2 || strcmp(argv[1], CTL_WORKER_ARG))
		return -1;
	if (argc != 4 || fstat(3, &lock) || !S_ISREG(lock.st_mode) || fstat(4, &ready) ||
	    !S_ISFIFO(ready.st_mode)) {
		fprintf(stderr,
			"%s: %s is internal: a failback starts it with the job's lock on fd 3 "
			"and a ready pipe on fd 4\n",
			argv[0], CTL_WORKER_ARG);
		return 2;
	}
	/* Neither is for a program the worker may start in turn. */
	fcntl(3, F_SETFD, FD_CLOEXEC);
	fcntl(4, F_SETFD, FD_CLOEXEC);
	/* Whatever the caller's signal state (resyncd ignores SIGPIPE and
	 * blocks SIGINT for its sigwait), the worker's is the same: SIGPIPE
	 * default, and blocked only what its signalfd takes, which has been
	 * blocked since before the fork so a suspend sent meanwhile waits. */
	signal(SIGPIPE, SIG_DFL);
	worker_signals(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	return worker_main(argv[2], argv[3], 4);
}

int ctl_worker_spawn(struct ctl_store *s, const char *id, int lockfd)
{
	/* Everything the child needs is made here: between its fork and its
	 * exec it makes only async-signal-safe calls. */
	char *argv[] = { program_invocation_name, (char *)CTL_WORKER_ARG, s->path, (char *)id,
			 NULL };
	sigset_t set, old;
	int p[2], status, null, err;
	pid_t child, pid;
	ssize_t n;

	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return -errno;
	if (pipe2(p, O_CLOEXEC) < 0) {
		close(null);
		return -errno;
	}
	/* Blocked before the fork and kept across the exec, so a suspend that
	 * arrives before the worker's signalfd exists waits for it instead of
	 * killing it. */
	worker_signals(&set);
	sigprocmask(SIG_BLOCK, &set, &old);
	fflush(NULL);
	child = fork();
	if (child == 0) {
		setsid();
		/* _Fork: fork() would run the atfork handlers, which take
		 * locks a thread of the caller may have held. */
		if (_Fork() != 0)
			_exit(0);
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		/* Keep only what the worker needs: the lock (whose open file
		 * description now also belongs to it) and the ready pipe, both
		 * without close-on-exec (dup2 clears it). */
		int hl = fcntl(lockfd, F_DUPFD, 100), hp = fcntl(p[1], F_DUPFD, 100);
		if (hl < 0 || hp < 0 || dup2(hl, 3) < 0 || dup2(hp, 4) < 0)
			_exit(2);
		close_range(5, ~0u, 0);
		execve("/proc/self/exe", argv, environ);
		/* The caller reads why instead of a pid (the exit status is
		 * no one's: this process was reparented). */
		pid = -errno;
		_exit(write(4, &pid, sizeof(pid)) == sizeof(pid) ? 127 : 126);
	}
	err = child < 0 ? -errno : 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	close(null);
	if (err < 0) {
		close(p[0]);
		return err;
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	do
		n = read(p[0], &pid, sizeof(pid));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n != sizeof(pid))
		return -ECHILD;
	return pid < 0 ? pid : 0;
}
