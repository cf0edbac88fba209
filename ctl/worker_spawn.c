/* SPDX-License-Identifier: MIT */
/*
 * Starting a job's worker: a double fork and setsid so it outlives the CLI,
 * with only the job's lock and a ready pipe kept open, then the process's
 * setup (log file, syslog, signalfd) around worker_run_job().
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>
#include "clock.h"
#include "job.h"
#include "settings.h"
#include "worker.h"
#include "worker_internal.h"

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
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	rc = worker_run_job(&w, sfd, ready_fd);
	json_object_put(w.job);
	ctl_settings_free(&w.set);
	free(w.disks);
	ctl_store_close(&w.st);
	closelog();
	return rc;
}

int ctl_worker_spawn(struct ctl_store *s, const char *id, int lockfd)
{
	sigset_t set, old;
	int p[2], status;
	pid_t child, pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* Blocked before the fork, so a suspend that arrives before the
	 * worker's signalfd exists waits for it instead of killing it. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	fflush(NULL);
	child = fork();
	if (child == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		int null = open("/dev/null", O_RDWR);
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		/* Keep only what the worker needs: the lock (whose open file
		 * description now also belongs to it) and the ready pipe. */
		int hl = fcntl(lockfd, F_DUPFD, 100), hp = fcntl(p[1], F_DUPFD, 100);
		if (hl < 0 || hp < 0 || dup2(hl, 3) < 0 || dup2(hp, 4) < 0)
			_exit(2);
		close_range(5, ~0u, 0);
		_exit(worker_main(s->path, id, 4));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (child < 0) {
		close(p[0]);
		return -errno;
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	do
		n = read(p[0], &pid, sizeof(pid));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	return n == sizeof(pid) ? 0 : -ECHILD;
}
