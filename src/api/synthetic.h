/* synthetic.h - the built-in, clearly synthetic price source. */
#ifndef SC_SYNTHETIC_H
#define SC_SYNTHETIC_H

struct evbuffer;
struct router;

#define SYNTHETIC_ROWS	2500

/* Appends a deterministic daily-price CSV for the symbol (Yahoo layout). */
void	synthetic_csv(struct evbuffer *, const char *symbol, unsigned rows);
/* Serves GET /synthetic/{symbol}.csv. */
void	synthetic_register(struct router *);
/*
 * The source URL template of this server's own synthetic prices, for a
 * server listening on host (a wildcard address becomes loopback) and
 * port, over https when tls. Allocated.
 */
char	*synthetic_url(const char *host, int port, int tls);

#endif
