/* SPDX-License-Identifier: MIT */
/* TLS client certificates to roles (tls_auth.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "tls_auth.h"

static int bad(const char **why, const char *what)
{
	*why = what;
	return 1;
}

int rd_tls_client_line(struct rd_config *c, const char *rest, const char **why)
{
	const char *p = rest + strspn(rest, " \t"), *end, *role;
	struct rd_tls_client *v;
	enum rd_role r;
	size_t len, role_len;

	if (*p != '"')
		return bad(why, "client wants \"SUBJECT\" operator|reader");
	end = strchr(p + 1, '"');
	if (!end)
		return bad(why, "client subject lacks its closing quote");
	len = (size_t)(end - p - 1);
	if (!len || !memchr(p + 1, '=', len))
		return bad(why, "client subject wants a DN such as \"CN=name\"");
	role = end + 1 + strspn(end + 1, " \t");
	if (role == end + 1)
		return bad(why, "client wants a space between subject and role");
	role_len = strcspn(role, " \t");
	if (role[role_len + strspn(role + role_len, " \t")])
		return bad(why, "client wants nothing after the role");
	if (role_len == 8 && !strncmp(role, "operator", 8))
		r = RD_ROLE_OPERATOR;
	else if (role_len == 6 && !strncmp(role, "reader", 6))
		r = RD_ROLE_READER;
	else
		return bad(why, "client role must be operator or reader");
	for (size_t i = 0; i < c->n_tls_clients; i++)
		if (strlen(c->tls_clients[i].subject) == len &&
		    !memcmp(c->tls_clients[i].subject, p + 1, len))
			return bad(why, "client subject named twice");
	v = realloc(c->tls_clients, (c->n_tls_clients + 1) * sizeof(*v));
	if (!v)
		return bad(why, "out of memory");
	c->tls_clients = v;
	v[c->n_tls_clients].subject = strndup(p + 1, len);
	v[c->n_tls_clients].role = r;
	if (!v[c->n_tls_clients].subject)
		return bad(why, "out of memory");
	c->n_tls_clients++;
	return 0;
}

void rd_tls_clients_free(struct rd_config *c)
{
	for (size_t i = 0; i < c->n_tls_clients; i++)
		free(c->tls_clients[i].subject);
	free(c->tls_clients);
	c->tls_clients = NULL;
	c->n_tls_clients = 0;
}

static gnutls_session_t session_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);

	return ci ? (gnutls_session_t)ci->tls_session : NULL;
}

/* The subject as the client lines name it: "CN=..." alone is the CN. */
static bool cn_only(const char *subject)
{
	return !strncmp(subject, "CN=", 3) && !strchr(subject, ',') && !strchr(subject, '+');
}

bool rd_tls_identify(const struct rd_daemon *d, struct MHD_Connection *conn, struct rd_caller *c)
{
	gnutls_session_t s = session_of(conn);
	const gnutls_datum_t *peers;
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = { 0 };
	char cn[256];
	size_t cn_len = sizeof(cn);
	unsigned status = 1, n = 0;
	const struct rd_tls_client *by_cn = NULL, *by_dn = NULL;

	if (!s || !d->tls_ca_pem)
		return false;
	c->role = RD_ROLE_NONE;
	snprintf(c->subject, sizeof(c->subject), "(no verified certificate)");
	/* The handshake checked it already; checked again so that no path
	 * to a role skips the verification. */
	if (gnutls_certificate_verify_peers2(s, &status) < 0 || status)
		return true;
	peers = gnutls_certificate_get_peers(s, &n);
	if (!peers || !n || gnutls_x509_crt_init(&crt) < 0)
		return true;
	if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0) {
		gnutls_x509_crt_deinit(crt);
		return true;
	}
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len) < 0)
		cn[0] = '\0';
	gnutls_x509_crt_deinit(crt);
	snprintf(c->subject, sizeof(c->subject), "%s", (const char *)dn.data);
	for (size_t i = 0; i < d->cfg.n_tls_clients; i++) {
		const struct rd_tls_client *t = &d->cfg.tls_clients[i];
		if (!strcmp(t->subject, (const char *)dn.data))
			by_dn = t;
		else if (cn[0] && cn_only(t->subject) && !strcmp(t->subject + 3, cn))
			by_cn = t;
	}
	gnutls_free(dn.data);
	if (by_dn || by_cn)
		c->role = (by_dn ? by_dn : by_cn)->role;
	return true;
}
