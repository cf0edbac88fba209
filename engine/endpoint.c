/* SPDX-License-Identifier: MIT */
#include <string.h>
#include "endpoint.h"
#include "internal.h"

bool rs_is_nbd_uri(const char *name)
{
	static const char *const schemes[] = { "nbd://", "nbds://", "nbd+unix://", "nbds+unix://" };
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (!strncmp(name, schemes[i], strlen(schemes[i])))
			return true;
	return false;
}

int rs_endpoint_open(struct resync *r, struct rs_endpoint *ep, const char *name,
		     const char *role, bool write)
{
	memset(ep, 0, sizeof *ep);
	ep->r = r;
	ep->role = role;
	ep->name = name;
	ep->ops = rs_is_nbd_uri(name) ? &rs_nbd_ops : &rs_file_ops;
	int ret = ep->ops->open(ep, write);
	if (ret) {
		rs_endpoint_close(ep);
		return ret;
	}
	return 0;
}

void rs_endpoint_close(struct rs_endpoint *ep)
{
	if (ep->ops && ep->ops->close)
		ep->ops->close(ep);
	ep->ops = NULL;
}
