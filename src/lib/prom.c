/*
 * prom.c - Prometheus text lines.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "lib/histo.h"
#include "lib/prom.h"

void
prom_family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* name, or name{labels}, and the space before the value. */
static void
prom_key(struct evbuffer *b, const char *name, const char *labels)
{
	if (labels != NULL && labels[0] != '\0')
		evbuffer_add_printf(b, "%s{%s} ", name, labels);
	else
		evbuffer_add_printf(b, "%s ", name);
}

void
prom_u64(struct evbuffer *b, const char *name, const char *labels,
    uint64_t v)
{
	prom_key(b, name, labels);
	evbuffer_add_printf(b, "%" PRIu64 "\n", v);
}

/* Go's ParseFloat spellings, which Prometheus reads. */
static void
prom_value(struct evbuffer *b, double v)
{
	char	buf[32];

	if (isnan(v))
		evbuffer_add(b, "NaN", 3);
	else if (isinf(v))
		evbuffer_add_printf(b, "%cInf", v > 0 ? '+' : '-');
	else {
		/* The shortest of 15 or 17 digits that reads back the same. */
		snprintf(buf, sizeof buf, "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, sizeof buf, "%.17g", v);
		evbuffer_add(b, buf, strlen(buf));
	}
}

void
prom_double(struct evbuffer *b, const char *name, const char *labels,
    double v)
{
	prom_key(b, name, labels);
	prom_value(b, v);
	evbuffer_add(b, "\n", 1);
}

void
prom_histo(struct evbuffer *b, const char *name, const char *labels,
    const struct histo *h)
{
	const char	*sep = labels != NULL && labels[0] != '\0' ? "," : "";
	uint64_t	 cum = 0;
	unsigned	 i;

	if (labels == NULL)
		labels = "";
	for (i = 0; i < h->n; i++) {
		cum += h->count[i];
		evbuffer_add_printf(b, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n",
		    name, labels, sep, h->le[i], cum);
	}
	cum += h->count[h->n];
	evbuffer_add_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n",
	    name, labels, sep, cum);
	evbuffer_add_printf(b, "%s_sum", name);
	if (labels[0] != '\0')
		evbuffer_add_printf(b, "{%s}", labels);
	evbuffer_add(b, " ", 1);
	prom_value(b, h->sum);
	evbuffer_add_printf(b, "\n%s_count", name);
	if (labels[0] != '\0')
		evbuffer_add_printf(b, "{%s}", labels);
	evbuffer_add_printf(b, " %" PRIu64 "\n", h->total);
}

char *
prom_escape(const char *v, char *buf, size_t len)
{
	size_t	n = 0;

	for (; *v != '\0' && n + 3 <= len; v++) {
		if (*v == '\\' || *v == '"') {
			buf[n++] = '\\';
			buf[n++] = *v;
		} else if (*v == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else
			buf[n++] = *v;
	}
	if (len > 0)
		buf[n < len ? n : len - 1] = '\0';
	return buf;
}
