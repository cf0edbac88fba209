/* SPDX-License-Identifier: MIT */
/* The size and extent-line grammar of parse_size.h, by hand: strtoull reads
 * a leading 0 as octal, skips spaces and accepts a sign. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include "parse_size.h"

static int digit(char c, unsigned base)
{
	int v = c >= '0' && c <= '9' ? c - '0' :
		c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		c >= 'A' && c <= 'F' ? c - 'A' + 10 :
				       99;
	return v < (int)base ? v : -1;
}

static unsigned suffix_shift(char c)
{
	switch (c) {
	case 'k':
	case 'K':
		return 10;
	case 'm':
	case 'M':
		return 20;
	case 'g':
	case 'G':
		return 30;
	case 't':
	case 'T':
		return 40;
	}
	return 0;
}

/* A SIZE in [s, s + n). */
static int parse_token(const char *s, size_t n, uint64_t *out)
{
	const char *end = s + n;
	unsigned base = 10;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	uint64_t v = 0;
	bool any = false, overflow = false;
	for (int d; s < end && (d = digit(*s, base)) >= 0; s++) {
		any = true;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			overflow = true;
		else
			v = v * base + (uint64_t)d;
	}
	if (!any)
		return -EINVAL;
	unsigned shift = s < end ? suffix_shift(*s) : 0;
	if (shift) {
		s++;
		if (end - s >= 2 && s[0] == 'i' && s[1] == 'B')
			s += 2;
		else if (s < end && *s == 'B')
			s++;
	}
	if (s != end)
		return -EINVAL;
	if (overflow || (shift && v > (UINT64_MAX >> shift)))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int rc_parse_size(const char *s, uint64_t *out)
{
	size_t n = 0;
	while (s[n])
		n++;
	return parse_token(s, n, out);
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The next token of [*p, end), skipping blanks; false when none is left
 * before the end or a comment. */
static bool next_token(const char **p, const char *end, const char **tok, size_t *n)
{
	const char *s = *p;
	while (s < end && blank(*s))
		s++;
	if (s == end || *s == '#') {
		*p = s;
		return false;
	}
	*tok = s;
	while (s < end && !blank(*s) && *s != '#')
		s++;
	*n = (size_t)(s - *tok);
	*p = s;
	return true;
}

static int field(const char **p, const char *end, uint64_t *out, const char *missing,
		 const char *bad, const char *big, const char **why)
{
	const char *tok;
	size_t n;
	if (!next_token(p, end, &tok, &n))
		return *why = missing, -EINVAL;
	int ret = parse_token(tok, n, out);
	if (ret)
		*why = ret == -ERANGE ? big : bad;
	return ret;
}

int rc_parse_extent_line(const char *line, size_t n, uint64_t *off, uint64_t *len, const char **why)
{
	const char *p = line, *end = line + n, *tok;
	size_t tn;
	for (size_t i = 0; i < n; i++)
		if (!line[i])
			return *why = "a NUL byte in the line", -EINVAL;
	if (!next_token(&p, end, &tok, &tn))
		return 0;
	p = line;
	int ret = field(&p, end, off, "expected \"offset length\"",
			"the offset is not a size (decimal or 0x hex, optional K/M/G/T suffix)",
			"the offset is larger than 2^64 - 1", why);
	if (!ret)
		ret = field(&p, end, len, "expected \"offset length\": the length is missing",
			    "the length is not a size (decimal or 0x hex, optional K/M/G/T suffix)",
			    "the length is larger than 2^64 - 1", why);
	if (ret)
		return ret;
	if (next_token(&p, end, &tok, &tn))
		return *why = "unexpected text after the length", -EINVAL;
	return 1;
}

int rc_read_extent_list(FILE *f, int (*fn)(void *arg, uint64_t off, uint64_t len), void *arg,
			unsigned *lineno, const char **why)
{
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;
	*lineno = 0;
	for (ssize_t n; !ret && (n = getline(&line, &cap, f)) >= 0;) {
		uint64_t off, len;
		++*lineno;
		int got = rc_parse_extent_line(line, (size_t)n, &off, &len, why);
		if (got > 0)
			ret = fn(arg, off, len);
		else if (got < 0)
			ret = got;
	}
	if (!ret && ferror(f)) {
		*why = "read error";
		ret = -EIO;
	} else if (!ret && !feof(f)) {
		/* getline() failed without reaching the end: no memory. */
		*why = "out of memory";
		ret = -ENOMEM;
	}
	free(line);
	return ret;
}
