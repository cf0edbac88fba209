/* SPDX-License-Identifier: MIT */
/* The slot buffers of buffers.h. */
#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>
#include "buffers.h"

int rs_buffers_new(struct resync *r, struct rs_ring *rg, unsigned n, uint32_t request,
		   struct rs_buffers **out)
{
	struct rs_buffers *b = calloc(1, sizeof *b);
	if (!b)
		return rs_fail(r, -ENOMEM, UINT64_MAX, "out of memory for buffers");
	b->n = n;
	b->size = request;
	if (posix_memalign((void **)&b->mem, 4096, (size_t)b->n * request)) {
		free(b);
		return rs_fail(r, -ENOMEM, UINT64_MAX, "out of memory for %u buffers of %u bytes",
			       n, request);
	}
	struct iovec *iov = calloc(b->n, sizeof *iov);
	if (iov) {
		for (unsigned i = 0; i < b->n; i++)
			iov[i] = (struct iovec){ b->mem + (size_t)i * request, request };
		/* Registration can fail under a small RLIMIT_MEMLOCK: unregistered
		 * buffers cost a page-pinning per request, nothing else. */
		b->registered = rs_ring_register_buffers(rg, iov, b->n) == 0;
		free(iov);
	}
	*out = b;
	return 0;
}

void rs_buffers_free(struct rs_buffers *b)
{
	if (!b)
		return;
	free(b->mem);
	free(b);
}
