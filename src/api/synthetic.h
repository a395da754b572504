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

#endif
