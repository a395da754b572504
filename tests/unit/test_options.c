/* test_options.c - listen addresses, ranges, environment twins. */
#include "config.h"

#include <stdlib.h>

#include "options.h"
#include "tap.h"

static enum options_result
load(struct options *o, const char *a1, const char *a2)
{
	char	*argv[] = { (char *)"stockcam", (char *)a1, (char *)a2, NULL };
	int	 argc = a1 == NULL ? 1 : a2 == NULL ? 2 : 3;

	return options_load(o, argc, argv);
}

int
main(void)
{
	struct options	 o;
	char		*host, port[8];

	ok(options_parse_listen("127.0.0.1:8080", &host, port,
	    sizeof port) == 0, "host:port");
	is_str(host, "127.0.0.1", "host");
	is_str(port, "8080", "port");
	free(host);
	ok(options_parse_listen("[::1]:0", &host, port, sizeof port) == 0,
	    "[v6]:port");
	is_str(host, "::1", "v6 host without brackets");
	free(host);
	ok(options_parse_listen("9000", &host, port, sizeof port) == 0 &&
	    strcmp(host, "127.0.0.1") == 0, "bare port is loopback");
	free(host);
	ok(options_parse_listen(":9000", &host, port, sizeof port) == 0 &&
	    strcmp(host, "0.0.0.0") == 0, ":port is every interface");
	free(host);
	ok(options_parse_listen("nonsense", &host, port, sizeof port) != 0,
	    "no port: error");
	ok(options_parse_listen("h:70000", &host, port, sizeof port) != 0,
	    "port out of range");
	ok(options_parse_listen("h:-1", &host, port, sizeof port) != 0,
	    "negative port");
	ok(options_parse_listen("::1:80", &host, port, sizeof port) != 0,
	    "bare v6 needs brackets");

	unsetenv("STOCKCAM_MAX_CONNECTIONS");
	ok(load(&o, NULL, NULL) == OPTIONS_OK, "defaults load");
	is_int(o.http.max_connections, 1024, "default max connections");
	is_int(o.http.max_conns_per_client, 64,
	    "default max connections per client");
	is_str(o.listen_host, "127.0.0.1", "default host is loopback");
	is_int(o.http.request_timeout_ms, 10000, "default request timeout");
	options_free(&o);

	ok(load(&o, "--max-connections", "7") == OPTIONS_OK &&
	    o.http.max_connections == 7, "--max-connections 7");
	options_free(&o);
	ok(load(&o, "--max-connections", "0") == OPTIONS_ERROR,
	    "--max-connections 0 refused");
	options_free(&o);
	ok(load(&o, "--max-connections", "-5") == OPTIONS_ERROR,
	    "--max-connections -5 refused");
	options_free(&o);
	ok(load(&o, "--max-connections-per-client", "0") == OPTIONS_OK &&
	    o.http.max_conns_per_client == 0,
	    "--max-connections-per-client 0 (no cap) accepted");
	options_free(&o);
	ok(load(&o, "--request-timeout", "0.5") == OPTIONS_OK &&
	    o.http.request_timeout_ms == 500, "fractional seconds");
	options_free(&o);
	ok(load(&o, "--request-timeout", "abc") == OPTIONS_ERROR,
	    "timeout must be a number");
	options_free(&o);
	ok(load(&o, "--log-level", "loud") == OPTIONS_ERROR,
	    "unknown log level");
	options_free(&o);

	setenv("STOCKCAM_MAX_CONNECTIONS", "33", 1);
	ok(load(&o, NULL, NULL) == OPTIONS_OK &&
	    o.http.max_connections == 33, "environment twin sets it");
	options_free(&o);
	ok(load(&o, "--max-connections", "44") == OPTIONS_OK &&
	    o.http.max_connections == 44, "the flag beats the environment");
	options_free(&o);
	setenv("STOCKCAM_MAX_CONNECTIONS", "zero", 1);
	ok(load(&o, NULL, NULL) == OPTIONS_ERROR,
	    "a bad environment value is an error");
	options_free(&o);
	unsetenv("STOCKCAM_MAX_CONNECTIONS");
	return tap_done();
}
