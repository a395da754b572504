/* csv2xml.h - streaming CSV (RFC 4180) to pretty XML through libxml2. */
#ifndef SC_CSV2XML_H
#define SC_CSV2XML_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/xmlIO.h>

#define CSV2XML_MAX_FIELD	(1024 * 1024)	/* bytes in one field */
#define CSV2XML_MAX_COLUMNS	1024		/* columns in the header */

struct csv2xml;

struct csv2xml_limits {
	size_t		max_field;
	unsigned	max_columns;
	size_t		out_buffer;	/* output buffer bytes; 0: 256 KiB */
};

struct csv2xml_stats {
	uint64_t	rows;
	uint64_t	bytes_in;
	uint64_t	bytes_out;
	int		out_errno;	/* the output's failure (ENOSPC...) */
	/* Segments of csv2xml_file's input converted on several threads
	 * and kept, and those converted again in order (csv2xml_par.c). */
	uint64_t	segments_kept;
	uint64_t	segments_redone;
};

/* Sets libxml2 up for threads and keeps it from printing errors; call
 * before any thread starts. */
void		 csv2xml_global_init(void);
/* Writes to `out` (not closed by csv2xml_free). NULL limits: defaults. */
struct csv2xml	*csv2xml_new(xmlOutputBufferPtr out,
		    const struct csv2xml_limits *);
/*
 * 0, or -1 with the reason in err ("line 3, column 7: invalid UTF-8");
 * after an error every call fails with the same reason.
 */
int		 csv2xml_feed(struct csv2xml *, const char *, size_t,
		    char *err, size_t errlen);
/* Ends the input, completes the document, flushes. 0, or -1 and err. */
int		 csv2xml_finish(struct csv2xml *, char *err, size_t errlen);
/* Rows and bytes so far. */
void		 csv2xml_get_stats(const struct csv2xml *,
		    struct csv2xml_stats *);
/* Frees the converter (not its output buffer). */
void		 csv2xml_free(struct csv2xml *);

/*
 * Converts the file `in` into `out` ("-" is stdin / stdout). A file
 * output is written under a temporary name in its directory and renamed
 * on success; on failure nothing is left behind. With threads > 1, up
 * to that many threads convert segments of a large input at once (see
 * csv2xml_par.c; worth it when cores are spare, as for the command, not
 * on a pool that fills every core); the output is the same. Returns 0,
 * or -1 with a message (position first for conversion errors) in err.
 */
int		 csv2xml_file(const char *in, const char *out,
		    const struct csv2xml_limits *, unsigned threads,
		    struct csv2xml_stats *, char *err, size_t errlen);

#endif
