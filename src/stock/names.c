/*
 * names.c - symbols, work files and archive entries: built here, read
 * back here.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "stock/names.h"

static int
names_alnum(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

int
names_symbol_ok(const char *s)
{
	size_t	i;

	if (!names_alnum(s[0]) && s[0] != '^')
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= NAMES_SYMBOL_MAX)
			return 0;
		if (!names_alnum(s[i]) && strchr("._^=-", s[i]) == NULL)
			return 0;
	}
	return 1;
}

int
names_symbol_file(const char *name, const char *ext,
    char symbol[NAMES_SYMBOL_MAX + 1])
{
	size_t	len = strlen(name), elen = strlen(ext);

	if (len <= elen || len - elen > NAMES_SYMBOL_MAX ||
	    strcmp(name + len - elen, ext) != 0)
		return -1;
	memcpy(symbol, name, len - elen);
	symbol[len - elen] = '\0';
	return names_symbol_ok(symbol) ? 0 : -1;
}

char *
names_work_file(const char *dir, const char *run, uint64_t job,
    const char *symbol, const char *ext)
{
	char	*path;

	xasprintf(&path, "%s/%s-%" PRIu64 "-%s.%s", dir, run, job, symbol,
	    ext);
	return path;
}

char *
names_entry(uint64_t job, const char *symbol)
{
	char	*entry;

	xasprintf(&entry, "%" PRIu64 "/%s.xml", job, symbol);
	return entry;
}

char *
names_entry_of_work_file(const char *filename)
{
	const char	*job, *sym, *dot;
	char		*entry;
	size_t		 n;

	/* RUN-JOB-SYMBOL.xml -> JOB/SYMBOL.xml */
	if (filename[0] == '.' || (job = strchr(filename, '-')) == NULL)
		return NULL;
	job++;
	if ((sym = strchr(job, '-')) == NULL || sym == job)
		return NULL;
	for (n = 0; job + n < sym; n++) {
		if (job[n] < '0' || job[n] > '9')
			return NULL;
	}
	sym++;
	if ((dot = strrchr(sym, '.')) == NULL || strcmp(dot, ".xml") != 0)
		return NULL;
	xasprintf(&entry, "%.*s/%s", (int)n, job, sym);
	return entry;
}
