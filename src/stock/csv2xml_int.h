/*
 * csv2xml_int.h - inside the converter: speculative converters, for
 * converting the segments of one input at once (csv2xml_par.c).
 */
#ifndef SC_CSV2XML_INT_H
#define SC_CSV2XML_INT_H

#include <stddef.h>
#include <stdint.h>

struct csv2xml;

/* A converter for segments of c's input, once c has its header: it
 * shares c's columns (free it before c) and keeps a segment's whole
 * output, up to ocap bytes. */
struct csv2xml	*csv2xml_spec_new(const struct csv2xml *c, size_t ocap);
/* Converts buf (at offset base of the input) as if it started between
 * records: 0 if it went through and ended between records too, -1 if
 * not (an error, a record open at the end, output over ocap). */
int		 csv2xml_spec_run(struct csv2xml *, const char *buf,
		    size_t len, uint64_t base);
/* Whether c stands between records, past the header. */
int		 csv2xml_clean(const struct csv2xml *);
/* Takes a segment s converted (len input bytes) in place of feeding it
 * to c, which must be clean: its output, rows and lines. 0, or -1 with
 * the write's failure in err. */
int		 csv2xml_adopt(struct csv2xml *c, const struct csv2xml *s,
		    size_t len, char *err, size_t errlen);
/* Feeds a segment whose guess failed to c, counting it. */
int		 csv2xml_redo(struct csv2xml *, const char *buf, size_t len,
		    char *err, size_t errlen);
/* Feeds everything read from fd to c, converting segments on up to
 * `threads` threads (this one included) once the header is in. 0, or
 * -1 with the reason in err. */
int		 csv2xml_par_feed(struct csv2xml *, int fd, unsigned threads,
		    char *err, size_t errlen);

#endif
