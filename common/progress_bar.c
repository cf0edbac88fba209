/* SPDX-License-Identifier: MIT */
/* The terminal progress bar of progress_bar.h. */
#include "progress_bar.h"

static double mib(uint64_t b)
{
	return (double)b / (1024.0 * 1024.0);
}

/* "m:ss" or "h:mm:ss", or "--:--" when it cannot be known. */
static void eta(char buf[16], const struct rc_progress *p)
{
	if (p->rate <= 0 || p->done > p->total) {
		snprintf(buf, 16, "--:--");
		return;
	}
	double secs = (double)(p->total - p->done) / p->rate;
	if (secs >= 100.0 * 3600) {
		snprintf(buf, 16, "--:--");
		return;
	}
	/* Rounded up: "0:00" only when nothing is left. */
	unsigned s = (unsigned)secs + ((double)(unsigned)secs < secs);
	if (s >= 3600)
		snprintf(buf, 16, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, 16, "%u:%02u", s / 60, s % 60);
}

int rc_progress_line(char *buf, size_t n, const struct rc_progress *p)
{
	double f = p->fraction > 1 ? 1 : p->fraction > 0 ? p->fraction : 0;
	int fill = (int)(f * RC_PROGRESS_CELLS);
	char bar[RC_PROGRESS_CELLS + 1], left[16];

	for (int i = 0; i < RC_PROGRESS_CELLS; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[RC_PROGRESS_CELLS] = '\0';
	eta(left, p);
	return snprintf(buf, n, "[%s] %5.1f%% %7.1f/%.1f MiB %6.1f MiB/s ETA %s%s%s", bar, f * 100,
			mib(p->done), mib(p->total), p->rate / (1024.0 * 1024.0), left,
			p->label ? " " : "", p->label ? p->label : "");
}

void rc_progress_draw(FILE *f, const struct rc_progress *p)
{
	char line[256];

	rc_progress_line(line, sizeof line, p);
	fprintf(f, "\r%-*s", RC_PROGRESS_WIDTH, line);
	fflush(f);
}
