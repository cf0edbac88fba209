/* SPDX-License-Identifier: MIT */
/*
 * resyncd: options and the optional configuration file, the state store,
 * the listening sockets, then the HTTP servers until SIGTERM or SIGINT
 * (see resyncd(8), doc/resyncd.md).  Jobs are not the daemon's threads:
 * each failback's worker is double-forked and setsid'd by ctl/, then execs
 * this program as `resyncd --worker STORE JOB` (a fresh image, not a copy
 * of a threaded process) and is reparented away from the daemon, so it
 * outlives the daemon and its caller alike, and the daemon has no child
 * left to reap.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>
#include <systemd/sd-daemon.h>
#include "resync/resync.h"
#include "auth.h"
#include "daemon.h"
#include "events.h"
#include "http.h"
#include "listen.h"
#include "paths.h"
#include "tls_auth.h"
#include "worker.h"

static const char usage[] =
	"Usage: resyncd [--socket PATH] [--socket-mode MODE] [--state-dir DIR] [--config FILE]\n"
	"               [--operator-group GROUP] [--refuse-readers] [--tcp-anonymous-readers]\n"
	"               [--listen HOST:PORT (--tls-cert FILE --tls-key FILE [--tls-ca FILE] |\n"
	"                                    --insecure-tcp)]\n"
	"               [--body-limit BYTES] [--timeout SECONDS] [--connection-limit N]\n"
	"               [--threads N] [--max-event-streams N] [--job-units]\n"
	"               [--allowed-path PREFIX]...\n"
	"The failback service: the resyncctl state store and jobs over HTTP/JSON\n"
	"(doc/api.md).  Default socket " RD_DEFAULT_SOCKET ", state store\n"
	"$RESYNC_STATE_DIR or " CTL_DEFAULT_STATE_DIR ".  See resyncd(8).\n";

static const struct option options[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "socket-mode", required_argument, NULL, 'm' },
	{ "state-dir", required_argument, NULL, 'd' },
	{ "config", required_argument, NULL, 'c' },
	{ "operator-group", required_argument, NULL, 'g' },
	{ "refuse-readers", no_argument, NULL, 'R' },
	{ "tcp-anonymous-readers", no_argument, NULL, 'Y' },
	{ "listen", required_argument, NULL, 'l' },
	{ "tls-cert", required_argument, NULL, 'C' },
	{ "tls-key", required_argument, NULL, 'K' },
	{ "tls-ca", required_argument, NULL, 'A' },
	{ "insecure-tcp", no_argument, NULL, 'I' },
	{ "job-units", no_argument, NULL, 'U' },
	{ "body-limit", required_argument, NULL, 'b' },
	{ "timeout", required_argument, NULL, 't' },
	{ "connection-limit", required_argument, NULL, 'n' },
	{ "threads", required_argument, NULL, 'T' },
	{ "max-event-streams", required_argument, NULL, 'E' },
	{ "allowed-path", required_argument, NULL, 'P' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "long-options", no_argument, NULL, 'L' },
	{ "short-options", no_argument, NULL, 'S' },
	{ NULL, 0, NULL, 0 },
};

void rd_log(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "resyncd[%ld]: ", (long)getpid());

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

/* Whatever started the daemon (a shell's background job ignores SIGINT
 * and SIGQUIT), it and its workers start from default dispositions: only
 * "ignore" survives exec, so only that is undone. */
static void reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	for (int i = 1; i < NSIG; i++)
		if (sigaction(i, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			signal(i, SIG_DFL);
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
	va_list ap;

	fputs("resyncd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int number(const char *opt, const char *s, unsigned long long min, unsigned long long max,
		  unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (!*s || *end || errno || *out < min || *out > max || *s == '-')
		return die("--%s wants a number %llu..%llu, not \"%s\"", opt, min, max, s);
	return 0;
}

/* One option by its letter; the config file's keys are the long names. */
static int set_option(struct rd_config *c, int o, const char *arg, const char *name)
{
	unsigned long long v;

	switch (o) {
	case 's':
		c->socket_path = arg;
		return 0;
	case 'd':
		c->state_dir = arg;
		return 0;
	case 'm': {
		char *end;
		v = strtoull(arg, &end, 8);
		if (!*arg || *end || v > 0777)
			return die("--%s wants an octal mode such as 0660, not \"%s\"", name, arg);
		c->socket_mode = (unsigned)v;
		return 0;
	}
	case 'g':
		c->operator_group = arg;
		return 0;
	case 'R':
		c->refuse_readers = true;
		return 0;
	case 'Y':
		c->tcp_anonymous_readers = true;
		return 0;
	case 'l':
		c->listen = arg;
		return 0;
	case 'C':
		c->tls_cert = arg;
		return 0;
	case 'K':
		c->tls_key = arg;
		return 0;
	case 'A':
		c->tls_ca = arg;
		return 0;
	case 'I':
		c->insecure_tcp = true;
		return 0;
	case 'U':
		c->job_units = true;
		return 0;
	case 'b':
		if (number(name, arg, 64, 1ull << 30, &v))
			return 1;
		c->body_limit = (size_t)v;
		return 0;
	case 't':
		if (number(name, arg, 1, 86400, &v))
			return 1;
		c->timeout_s = (unsigned)v;
		return 0;
	case 'n':
		if (number(name, arg, 1, 100000, &v))
			return 1;
		c->conn_limit = (unsigned)v;
		return 0;
	case 'T':
		if (number(name, arg, 1, 256, &v))
			return 1;
		c->threads = (unsigned)v;
		return 0;
	case 'P': {
		const char *why = NULL;
		if (rd_allowed_path_add(c, arg, &why))
			return die("--%s \"%s\": %s", name, arg, why);
		return 0;
	}
	case 'E':
		if (number(name, arg, 1, 100000, &v))
			return 1;
		c->max_streams = (unsigned)v;
		return 0;
	}
	return die("unknown option \"--%s\"\n%s", name, usage);
}

/* "key = value" lines (keys are the long options without "--"; a flag
 * takes "true"), '#' comments.  The strings stay allocated for the
 * daemon's life. */
static int read_config(struct rd_config *c, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;

	if (!f)
		return die("config %s: %s", path, strerror(errno));
	while (!rc && getline(&line, &cap, f) > 0) {
		char *k = line + strspn(line, " \t"), *eq, *v, *end;
		const struct option *o;
		lineno++;
		k[strcspn(k, "#\r\n")] = '\0';
		if (!*k)
			continue;
		/* client "SUBJECT" ROLE: the TLS role map (tls_auth.h). */
		if (!strncmp(k, "client", 6) && (k[6] == ' ' || k[6] == '\t')) {
			const char *why = NULL;
			if (rd_tls_client_line(c, k + 6, &why))
				rc = die("config %s:%d: %s", path, lineno, why);
			continue;
		}
		eq = strchr(k, '=');
		if (!eq) {
			rc = die("config %s:%d: want key = value", path, lineno);
			break;
		}
		for (end = eq; end > k && (end[-1] == ' ' || end[-1] == '\t'); end--)
			;
		*end = '\0';
		v = eq + 1 + strspn(eq + 1, " \t");
		for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t'); end--)
			;
		*end = '\0';
		for (o = options; o->name && (strcmp(o->name, k) || strchr("chVLS", o->val)); o++)
			;
		if (!o->name) {
			rc = die("config %s:%d: unknown key \"%s\"", path, lineno, k);
			break;
		}
		if (o->has_arg == no_argument && strcmp(v, "true")) {
			if (strcmp(v, "false"))
				rc = die("config %s:%d: %s wants true or false", path, lineno, k);
			continue;
		}
		rc = set_option(c, o->val, strdup(v), o->name);
	}
	free(line);
	fclose(f);
	return rc;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int parse_args(struct rd_config *c, int argc, char **argv, bool *exit_now)
{
	const char *config = NULL;
	int o;

	*exit_now = false;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			config = argv[i] + 9;
	/* The file first, so the command line overrides it. */
	if (config && read_config(c, config))
		return 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (o) {
		case 'c':
			break;
		case 'h':
			fputs(usage, stdout);
			*exit_now = true;
			return 0;
		case 'V':
			printf("resyncd %s\nlib%s\n", RESYNC_PACKAGE_VERSION, resync_version());
			*exit_now = true;
			return 0;
		case 'L':
		case 'S':
			for (const struct option *p = options; p->name; p++)
				if (o == 'L')
					printf("--%s\n", p->name);
				else if (p->val == 'h')
					printf("-h\n");
			*exit_now = true;
			return 0;
		case ':':
			return die("option \"%s\" wants a value", argv[optind - 1]);
		case '?':
			return die("unknown option \"%s\"\n%s", argv[optind - 1], usage);
		default: {
			const struct option *p = options;
			while (p->name && p->val != o)
				p++;
			if (set_option(c, o, optarg, p->name ? p->name : "?"))
				return 1;
		}
		}
	}
	if (optind != argc)
		return die("unexpected argument \"%s\"", argv[optind]);
	if (c->listen && !c->insecure_tcp && !(c->tls_cert && c->tls_key))
		return die("--listen needs TLS (--tls-cert and --tls-key), or --insecure-tcp for "
			   "tests");
	if ((c->tls_cert || c->tls_key) && !(c->tls_cert && c->tls_key))
		return die("--tls-cert and --tls-key go together");
	if (c->tls_ca && !c->tls_cert)
		return die("--tls-ca wants --tls-cert and --tls-key");
	if (c->max_streams && c->max_streams >= c->conn_limit)
		return die("--max-event-streams %u must be below --connection-limit %u, so that "
			   "method calls keep a connection",
			   c->max_streams, c->conn_limit);
	return 0;
}

int main(int argc, char **argv)
{
	struct rd_daemon d = {
		.cfg = {
			.socket_path = RD_DEFAULT_SOCKET,
			.socket_mode = 0660,
			.state_dir = ctl_store_default_path(),
			.body_limit = 1 << 20,
			.timeout_s = 30,
			.conn_limit = 1024,
			.threads = 4,
		},
	};
	struct MHD_Daemon *unix_srv, *tcp_srv = NULL;
	char why[512], *cert = NULL, *key = NULL, *ca = NULL;
	sigset_t set;
	bool exit_now;
	int fd, tcp_fd = -1, sig, err, activated;
	bool own_unix;

	/* A job's worker, exec'd by ctl's spawn from one of our threads. */
	err = ctl_worker_entry(argc, argv);
	if (err >= 0)
		return err;
	if (parse_args(&d.cfg, argc, argv, &exit_now))
		return 1;
	if (exit_now)
		return 0;
	/* The store's trust rules read the operator group from the
	 * environment: one setting for both. */
	if (d.cfg.operator_group) {
		if (rd_group_parse(d.cfg.operator_group) < 0)
			return die("unknown operator group \"%s\"", d.cfg.operator_group);
		setenv("RESYNC_OPERATOR_GROUP", d.cfg.operator_group, 1);
	}
	d.operator_gid = rd_group_parse(getenv("RESYNC_OPERATOR_GROUP"));
	err = ctl_store_open(&d.store, d.cfg.state_dir);
	if (err < 0)
		return die("state store %s: %s", d.cfg.state_dir,
			   d.store.why[0] ? d.store.why : strerror(-err));
	if (d.cfg.tls_cert) {
		cert = slurp(d.cfg.tls_cert);
		key = slurp(d.cfg.tls_key);
		ca = d.cfg.tls_ca ? slurp(d.cfg.tls_ca) : NULL;
		if (!cert || !key || (d.cfg.tls_ca && !ca))
			return die("cannot read %s", !cert ? d.cfg.tls_cert :
						     !key  ? d.cfg.tls_key :
							     d.cfg.tls_ca);
		d.tls_ca_pem = ca;
	}
	/* SIGTERM and SIGINT are taken by sigwait below, in every thread's
	 * mask from here on; a client gone mid-reply must not kill us. */
	reset_signals();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Sockets systemd passed replace those we would make (the unit's
	 * ListenStream= is then the path, and it stays systemd's to remove). */
	activated = rd_listen_activated(&fd, &tcp_fd, why, sizeof(why));
	if (activated < 0)
		return die("%s", why);
	if ((d.cfg.tls_cert || d.cfg.insecure_tcp) && !d.cfg.listen && tcp_fd < 0)
		return die(
			"--tls-cert and --insecure-tcp want --listen or an activated TCP socket");
	if (tcp_fd >= 0 && !d.cfg.tls_cert && !d.cfg.insecure_tcp)
		return die("an activated TCP socket needs TLS (--tls-cert and --tls-key), or "
			   "--insecure-tcp for tests");
	own_unix = fd < 0;
	if (own_unix)
		fd = rd_listen_unix(d.cfg.socket_path, d.cfg.socket_mode, d.operator_gid, why,
				    sizeof(why));
	if (fd < 0)
		return die("%s", why);
	if (d.cfg.listen && tcp_fd < 0) {
		tcp_fd = rd_listen_tcp(d.cfg.listen, why, sizeof(why));
		if (tcp_fd < 0)
			return die("%s", why);
	}
	if (rd_events_start(&d) < 0)
		return die("cannot start the event stream's notifier");
	unix_srv = rd_http_start(&d, fd, true, NULL, NULL);
	if (!unix_srv)
		return die("cannot serve %s", d.cfg.socket_path);
	if (tcp_fd >= 0) {
		tcp_srv = rd_http_start(&d, tcp_fd, false, cert, key);
		if (!tcp_srv)
			return die("cannot serve %s",
				   d.cfg.listen ? d.cfg.listen : "the activated TCP socket");
	}
	rd_log("listening on %s%s%s (state store %s)",
	       own_unix ? d.cfg.socket_path : "the activated Unix socket",
	       d.cfg.listen ? " and " : "", d.cfg.listen ? d.cfg.listen : "", d.store.path);
	/* Type=notify: ready once both servers accept; a no-op without
	 * $NOTIFY_SOCKET. */
	sd_notifyf(0, "READY=1\nSTATUS=serving %s (state store %s)",
		   own_unix ? d.cfg.socket_path : "the activated Unix socket", d.store.path);
	while (sigwait(&set, &sig) == 0 && sig != SIGTERM && sig != SIGINT)
		;
	rd_log("stopping on signal %d; running jobs go on", sig);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping; running jobs go on");
	rd_events_stop();
	if (tcp_srv)
		MHD_stop_daemon(tcp_srv);
	MHD_stop_daemon(unix_srv);
	if (own_unix)
		unlink(d.cfg.socket_path);
	ctl_store_close(&d.store);
	free(cert);
	free(key);
	free(ca);
	rd_tls_clients_free(&d.cfg);
	rd_allowed_paths_free(&d.cfg);
	return 0;
}
