/* hostport.c - "HOST:PORT" with IPv6 literals in brackets. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "lib/hostport.h"

int
hostport_format(char *buf, size_t len, const char *host, unsigned port)
{
	int	v6 = strchr(host, ':') != NULL;

	return snprintf(buf, len, "%s%s%s:%u", v6 ? "[" : "", host,
	    v6 ? "]" : "", port);
}
