/*
 * front.c - the `stockcam` command: converts CSV itself, runs the
 * server binary for everything else.
 *
 * The server links fifty-odd shared libraries (libcurl alone brings
 * TLS, LDAP, RTMP and Kerberos); loading them takes about 10 ms before
 * main(), ten times the start of a small program. That is nothing for a
 * server, but `stockcam csv2xml` is a tool scripts run once per file,
 * so this command links the converter and libxml2 only, and replaces
 * itself (execv: same PID, same arguments, same environment, so
 * systemd, signals and exit codes are unchanged) with stockcam-server
 * for every other use: serving, the client commands, --help, --version.
 *
 * stockcam-server is looked for beside this binary first (the build
 * tree, or a relocated install), then in the package's libexec
 * directory.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd_csv2xml.h"

#define SERVER_NAME	"stockcam-server"

/* stockcam-server beside the running binary: path, or 0 if not there. */
static int
beside_self(char *path, size_t size)
{
	ssize_t	 n;
	char	*slash;

	n = readlink("/proc/self/exe", path, size - 1);
	if (n <= 0 || (size_t)n >= size - 1)
		return 0;
	path[n] = '\0';
	if ((slash = strrchr(path, '/')) == NULL ||
	    (size_t)(slash + 1 - path) + sizeof SERVER_NAME > size)
		return 0;
	memcpy(slash + 1, SERVER_NAME, sizeof SERVER_NAME);
	return access(path, X_OK) == 0;
}

int
main(int argc, char **argv)
{
	char		 here[PATH_MAX];
	const char	*server;

	if (argc > 1 && strcmp(argv[1], "csv2xml") == 0)
		return cmd_csv2xml_main(argc - 1, argv + 1);
	server = beside_self(here, sizeof here) ? here :
	    PKGLIBEXECDIR "/" SERVER_NAME;
	execv(server, argv);
	fprintf(stderr, "stockcam: cannot run %s: %s\n", server,
	    strerror(errno));
	return 127;
}
