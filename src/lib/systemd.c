/*
 * systemd.c - socket activation and sd_notify, as systemd documents
 * them (sd_listen_fds(3), sd_notify(3)): a few environment variables
 * and one datagram on a Unix socket.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/systemd.h"

/* A whole decimal number in [0, max], or -1. */
static long
env_number(const char *name, long max)
{
	const char	*v = getenv(name);
	char		*end;
	long		 n;

	if (v == NULL || *v == '\0')
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || n > max)
		return -1;
	return n;
}

int
systemd_listen_fds(void)
{
	long	pid, n;
	int	fd, flags;

	pid = env_number("LISTEN_PID", LONG_MAX);
	n = env_number("LISTEN_FDS", INT_MAX - SYSTEMD_LISTEN_FDS_START);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (pid != (long)getpid() || n <= 0)
		return 0;
	for (fd = SYSTEMD_LISTEN_FDS_START;
	    fd < SYSTEMD_LISTEN_FDS_START + n; fd++) {
		if ((flags = fcntl(fd, F_GETFD)) != -1)
			fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
	}
	return (int)n;
}

int
systemd_notify(const char *state)
{
	const char		*path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un	 sun;
	socklen_t		 len;
	size_t			 plen;
	ssize_t			 sent;
	int			 fd, saved;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return 0;
	plen = strlen(path);
	if (plen >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* the abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
	    (path[0] == '/'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len);
	saved = errno;
	close(fd);
	errno = saved;
	return sent < 0 ? -1 : 1;
}
