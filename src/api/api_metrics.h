/* api_metrics.h - GET /metrics, Prometheus' text format. */
#ifndef SC_API_METRICS_H
#define SC_API_METRICS_H

struct api_metrics;
struct api_server;
struct router;

/* Routes /metrics to the figures of sv (which the caller keeps). */
struct api_metrics *api_metrics_register(struct router *,
		    const struct api_server *sv);
void		 api_metrics_free(struct api_metrics *);

#endif
