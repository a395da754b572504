/* log.h - leveled logging to stderr, and fatal exits. */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

#define PRINTFLIKE(a, b) __attribute__((format(printf, a, b)))

/* Lines below the level are not written. */
void	log_set_level(enum log_level);
enum log_level log_get_level(void);
/* "error", "warn" (or "warning"), "info", "debug": 0, else -EINVAL. */
int	log_parse_level(const char *, enum log_level *);
/* 1 if a line at this level would be written. */
int	log_enabled(enum log_level);

void	log_error(const char *, ...) PRINTFLIKE(1, 2);
void	log_warn(const char *, ...) PRINTFLIKE(1, 2);
void	log_info(const char *, ...) PRINTFLIKE(1, 2);
void	log_debug(const char *, ...) PRINTFLIKE(1, 2);

/* fatal() appends strerror(errno); fatalx() does not. Both exit(1). */
void	fatal(const char *, ...) PRINTFLIKE(1, 2) __attribute__((noreturn));
void	fatalx(const char *, ...) PRINTFLIKE(1, 2) __attribute__((noreturn));

#endif
