/* SPDX-License-Identifier: MIT */
/* Opening an endpoint: the kind from its name, then the kind's own open. */
#include <errno.h>
#include <string.h>
#include <xxhash.h>
#include "endpoint.h"
#include "internal.h"
#include "nbd_uri.h"

int rs_endpoint_open(struct resync *r, struct rs_endpoint *ep, const char *name, const char *role,
		     bool write)
{
	memset(ep, 0, sizeof *ep);
	ep->r = r;
	ep->role = role;
	ep->name = name;
	ep->ops = rc_is_nbd_uri(name) ? &rs_nbd_ops : &rs_file_ops;
	int ret = ep->ops->open(ep, write);
	if (ret) {
		rs_endpoint_close(ep);
		return ret;
	}
	static const uint8_t unknown[16];
	if (!memcmp(ep->identity, unknown, sizeof unknown)) {
		/* A network endpoint is what its name (the URI, export name
		 * included) and size say; the checkpoint adds a content
		 * fingerprint of the source. */
		XXH128_canonicalFromHash((XXH128_canonical_t *)ep->identity,
					 XXH3_128bits_withSeed(name, strlen(name), ep->size));
	}
	return 0;
}

int rs_flush_target(struct rs_endpoint *ep)
{
	int ret = ep->ops->flush(ep);
	if (ret && ret != -ECANCELED)
		ep->r->tgt_flush_failed = true;
	return ret;
}

void rs_endpoint_close(struct rs_endpoint *ep)
{
	if (ep->ops && ep->ops->close)
		ep->ops->close(ep);
	ep->ops = NULL;
}
