/* SPDX-License-Identifier: MIT */
/*
 * resyncd, the failback service: the second front end over the state store
 * and job model of ctl/ (resyncctl is the first).  What the daemon's units
 * share: its configuration, the one open store, the caller of a request and
 * the reply a handler builds.  Only main.c, http.c and the log print.
 */
#ifndef RESYNCD_DAEMON_H
#define RESYNCD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "store.h"

#define RD_DEFAULT_SOCKET "/run/resync/resyncd.sock"

struct rd_config {
	const char *socket_path;
	unsigned socket_mode; /* default 0660 */
	const char *state_dir;
	const char *listen;   /* HOST:PORT or NULL */
	bool insecure_tcp;    /* --listen without TLS (tests only) */
	const char *tls_cert; /* PEM files for --listen */
	const char *tls_key;
	const char *tls_ca;                /* PEM: CA of the client certificates */
	struct rd_tls_client *tls_clients; /* config "client" lines (tls_auth.h) */
	size_t n_tls_clients;
	const char *operator_group; /* name or gid; NULL: $RESYNC_OPERATOR_GROUP */
	bool refuse_readers;        /* others may not even GET */
	bool tcp_anonymous_readers; /* TCP callers without a certificate role may GET */
	bool job_units;             /* workers into systemd scopes (job_unit.h) */
	size_t body_limit;          /* bytes; larger bodies get 413 */
	unsigned timeout_s;         /* idle connection timeout */
	unsigned conn_limit;        /* per listening socket */
	unsigned max_streams;       /* GET /v1/events at once, all sockets; 0: default */
	char **allowed_paths;       /* --allowed-path prefixes (paths.h) */
	size_t n_allowed_paths;
	unsigned threads; /* MHD thread pool size */
};

struct rd_daemon {
	struct rd_config cfg;
	struct ctl_store store;
	long operator_gid; /* -1: none */
	char *tls_ca_pem;  /* --tls-ca's text, for libmicrohttpd */
};

enum rd_role {
	RD_ROLE_NONE,     /* refused */
	RD_ROLE_READER,   /* GET only */
	RD_ROLE_OPERATOR, /* every method */
};

/* A TCP client's certificate subject and its role (tls_auth.h). */
struct rd_tls_client {
	char *subject;
	enum rd_role role;
};

struct rd_caller {
	bool local; /* Unix socket: uid/gid/pid are the peer's credentials */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	enum rd_role role;
	char subject[256]; /* TLS: the client certificate's DN */
};

/* What a handler answers: an HTTP status, a JSON body (or text for
 * /metrics), an optional Location, and the ReturnValue for the log. */
struct rd_reply {
	unsigned status;
	json_object *body;
	char *text;
	const char *content_type;
	char location[128];
	char allow[64]; /* for 405 */
	uint32_t rv;
	bool stream; /* GET /v1/events: http.c sends the event stream */
};

/* One request as the router sees it. */
struct rd_request {
	const char *method;
	const char *path;
	const char *body; /* NUL-terminated, may be empty */
	size_t body_len;
	const char *query_vm; /* ?vm= of GET /v1/jobs */
	const struct rd_caller *caller;
};

/* Logs one line to stderr (the journal under systemd): printf-like; a
 * single write(2), so lines from threads do not interleave and no stdio
 * lock is held across a worker's fork. */
void rd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
