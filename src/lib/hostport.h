/* hostport.h - "HOST:PORT" with IPv6 literals in brackets. */
#ifndef SC_HOSTPORT_H
#define SC_HOSTPORT_H

#include <stddef.h>

/*
 * Writes host and port as a URL authority ("[::1]:8080", "127.0.0.1:80")
 * into buf. Returns what snprintf returns: buf is cut at len - 1 bytes.
 */
int	hostport_format(char *buf, size_t len, const char *host,
	    unsigned port);

#endif
