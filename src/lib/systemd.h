/*
 * systemd.h - the two systemd protocols a daemon needs, without
 * libsystemd: sockets passed by socket activation (LISTEN_FDS) and
 * readiness notification (NOTIFY_SOCKET). Both are no-ops when the
 * process was not started that way.
 */
#ifndef SC_SYSTEMD_H
#define SC_SYSTEMD_H

#define SYSTEMD_LISTEN_FDS_START	3

/*
 * The sockets passed to this process (fds 3, 4, ...): how many, 0 when
 * none were (or they were meant for another process). The variables are
 * removed from the environment so children do not take them, and the
 * fds are made close-on-exec.
 */
int	systemd_listen_fds(void);
/*
 * Sends state ("READY=1", "STOPPING=1", "STATUS=...") to the service
 * manager: 1 if sent, 0 if there is none to tell, -1 with errno.
 */
int	systemd_notify(const char *state);

#endif
