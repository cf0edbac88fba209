/* SPDX-License-Identifier: MIT */
/* GUIDs from getrandom(2), read and written by libuuid: see guid.h. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <uuid/uuid.h>
#include "guid.h"

int rc_random(void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int rc_guid_random(uint8_t id[16])
{
	int err = rc_random(id, 16);

	if (err)
		return err;
	/* RFC 4122 version 4 (random), variant 10. */
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
	return 0;
}

int rc_guid_parse(const char *s, uint8_t id[16])
{
	static const size_t dashes[] = { 8, 13, 18, 23 };
	char text[RC_GUID_TEXT_LEN];
	size_t n = strlen(s);

	if (n == 32) {
		/* The undashed spelling, dashed so uuid_parse reads both. */
		for (size_t i = 0, j = 0, d = 0; i < 32; i++) {
			if (d < 4 && j == dashes[d])
				text[j++] = '-', d++;
			text[j++] = s[i];
		}
		text[36] = '\0';
		s = text;
	} else if (n != 36) {
		return -EINVAL;
	}
	/* uuid_parse checks the dashes' places and that the rest is hex. */
	return uuid_parse(s, id) ? -EINVAL : 0;
}

void rc_guid_text(const uint8_t id[16], char out[RC_GUID_TEXT_LEN])
{
	uuid_unparse_lower(id, out);
}

void rc_guid_hex(const uint8_t id[16], char out[RC_GUID_HEX_LEN])
{
	char text[RC_GUID_TEXT_LEN];
	size_t j = 0;

	uuid_unparse_lower(id, text);
	for (size_t i = 0; text[i]; i++)
		if (text[i] != '-')
			out[j++] = text[i];
	out[j] = '\0';
}
