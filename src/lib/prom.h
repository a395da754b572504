/*
 * prom.h - the Prometheus text exposition format (0.0.4), written by
 * hand into an evbuffer.
 *
 * A family is its HELP and TYPE lines followed by its samples; labels are
 * passed already formatted (`method="GET",route="/api/jobs"`), their
 * values escaped with prom_escape when they are not the program's own
 * constants.
 */
#ifndef SC_PROM_H
#define SC_PROM_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct histo;

#define PROM_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* type: "counter", "gauge", "histogram" or "untyped". */
void	 prom_family(struct evbuffer *, const char *name, const char *type,
	    const char *help);
/* One sample; labels may be NULL or "". */
void	 prom_u64(struct evbuffer *, const char *name, const char *labels,
	    uint64_t);
void	 prom_double(struct evbuffer *, const char *name, const char *labels,
	    double);
/* A histogram's cumulative _bucket samples, then _sum and _count. */
void	 prom_histo(struct evbuffer *, const char *name, const char *labels,
	    const struct histo *);
/* v with \ " and newline escaped, cut to fit len; returns buf. */
char	*prom_escape(const char *v, char *buf, size_t len);

#endif
