/* SPDX-License-Identifier: MIT */
/* The NBD URI schemes of nbd_uri.h. */
#include <string.h>
#include "nbd_uri.h"

bool rc_is_nbd_uri(const char *name)
{
	static const char *const schemes[] = {
		"nbd://", "nbd+unix://", "nbd+vsock://", "nbds://", "nbds+unix://", "nbds+vsock://",
	};
	for (size_t i = 0; name && i < sizeof schemes / sizeof schemes[0]; i++)
		if (!strncmp(name, schemes[i], strlen(schemes[i])))
			return true;
	return false;
}
