/*
 * names.h - every name the stock pipeline gives: symbols, work files,
 * archive entries; and their limits. One place builds them and the same
 * place reads them back.
 */
#ifndef SC_NAMES_H
#define SC_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* The longest symbol, in bytes. */
#define NAMES_SYMBOL_MAX	32

/*
 * Symbols: 1 to NAMES_SYMBOL_MAX of [A-Za-z0-9._^=-], the first a
 * letter, a digit or '^' (indices such as ^GSPC). 1 if s is one.
 */
int	 names_symbol_ok(const char *s);

/*
 * A file named after a symbol, "SYMBOL.EXT" (ext with its dot): 0 with
 * the symbol copied out, or -1 if name is not of that form or what
 * stands before ext is not a symbol.
 */
int	 names_symbol_file(const char *name, const char *ext,
	    char symbol[NAMES_SYMBOL_MAX + 1]);

/*
 * A work file of a run: "DIR/RUN-JOB-SYMBOL.EXT" (RUN is this run's
 * tag, so files of an earlier run are told apart). Allocated.
 */
char	*names_work_file(const char *dir, const char *run, uint64_t job,
	    const char *symbol, const char *ext);
/* The entry a symbol's XML has in its archive: "JOB/SYMBOL.xml". */
char	*names_entry(uint64_t job, const char *symbol);
/*
 * The archive entry for a work file name (no directory) made by
 * names_work_file with EXT "xml", or NULL if it is not one. Allocated.
 */
char	*names_entry_of_work_file(const char *filename);

#endif
