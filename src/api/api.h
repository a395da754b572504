/* api.h - the JSON API's server-wide routes. */
#ifndef SC_API_H
#define SC_API_H

struct app;
struct router;

/* GET /api/health and GET /api/stats. */
void	api_register(struct router *, struct app *);

#endif
