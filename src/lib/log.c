/*
 * log.c - leveled logging.
 *
 * One line per message on stderr, prefixed with a UTC timestamp and the
 * level. Any thread may log: each line is formatted into a local buffer
 * and written with a single write(2), so lines from several threads do
 * not interleave.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

static volatile enum log_level log_level = LOG_LEVEL_INFO;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

int
log_parse_level(const char *name, enum log_level *level)
{
	size_t	i;

	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcasecmp(name, log_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		*level = LOG_LEVEL_WARN;
		return 0;
	}
	return -EINVAL;
}

int
log_enabled(enum log_level level)
{
	return level <= log_level;
}

static void __attribute__((format(printf, 2, 0)))
log_vwrite(enum log_level level, const char *fmt, va_list ap, const char *err)
{
	char		 line[2048];
	struct timeval	 tv;
	struct tm	 tm;
	size_t		 off;
	int		 n;
	ssize_t		 unused;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	off = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + off, sizeof line - off, ".%03ldZ %s ",
	    (long)(tv.tv_usec / 1000), log_names[level]);
	if (n > 0)
		off += (size_t)n;
	n = vsnprintf(line + off, sizeof line - off, fmt, ap);
	if (n > 0)
		off = off + (size_t)n < sizeof line ? off + (size_t)n :
		    sizeof line - 1;
	if (err != NULL && off < sizeof line - 1) {
		n = snprintf(line + off, sizeof line - off, ": %s", err);
		if (n > 0)
			off = off + (size_t)n < sizeof line ? off + (size_t)n :
			    sizeof line - 1;
	}
	if (off >= sizeof line - 1)
		off = sizeof line - 2;
	line[off++] = '\n';
	unused = write(STDERR_FILENO, line, off);
	(void)unused;	/* nowhere left to report a failed log write */
}

#define LOG_FN(name, level)					\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	ap;						\
								\
	if (!log_enabled(level))				\
		return;						\
	va_start(ap, fmt);					\
	log_vwrite(level, fmt, ap, NULL);			\
	va_end(ap);						\
}

LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	char		 buf[256];
	const char	*err;
	int		 saved = errno;

	err = strerror_r(saved, buf, sizeof buf);	/* the GNU variant */
	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
