/*
 * test_csv2xml.c - the converter on hand-made input: exact output for
 * each RFC 4180 case, header rewriting, errors with their positions, and
 * the same result however the input is cut into chunks.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "stock/csv2xml.h"
#include "stock/colname.h"
#include "tap.h"

#define DECL	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

struct result {
	int	 rv;
	char	*out;
	char	 err[256];
	struct csv2xml_stats st;
};

/* Converts in chunks of `chunk` bytes (0: all at once). */
static void
convert(const char *in, size_t len, size_t chunk,
    const struct csv2xml_limits *lim, struct result *r)
{
	xmlBufferPtr		 buf = xmlBufferCreate();
	xmlOutputBufferPtr	 ob = xmlOutputBufferCreateBuffer(buf, NULL);
	struct csv2xml		*c = csv2xml_new(ob, lim);
	size_t			 off, n;

	if (chunk == 0)
		chunk = len > 0 ? len : 1;
	r->rv = 0;
	r->err[0] = '\0';
	for (off = 0; off < len && r->rv == 0; off += n) {
		n = len - off < chunk ? len - off : chunk;
		r->rv = csv2xml_feed(c, in + off, n, r->err, sizeof r->err);
	}
	if (r->rv == 0)
		r->rv = csv2xml_finish(c, r->err, sizeof r->err);
	csv2xml_get_stats(c, &r->st);
	csv2xml_free(c);
	xmlOutputBufferClose(ob);
	r->out = strdup((const char *)xmlBufferContent(buf));
	xmlBufferFree(buf);
}

static void
check_out(const char *in, const char *want, const char *name)
{
	struct result	r;

	convert(in, strlen(in), 0, NULL, &r);
	if (!ok(r.rv == 0, "%s: converts", name))
		diag("error: %s", r.err);
	is_str(r.out, want, "%s: output", name);
	free(r.out);
}

static void
check_err(const char *in, size_t len, const char *want, const char *name)
{
	struct result	r;

	convert(in, len, 0, NULL, &r);
	ok(r.rv == -1, "%s: fails", name);
	is_str(r.err, want, "%s: message", name);
	free(r.out);
}

static void
test_cases(void)
{
	check_out("Date,Open\n2026-11-20,15.08\n",
	    DECL "<Data>\n\t<Row>\n\t\t<Date>2026-11-20</Date>\n"
	    "\t\t<Open>15.08</Open>\n\t</Row>\n</Data>\n", "basic");
	check_out("a,b\r\n1,2\r\n", DECL "<Data>\n\t<Row>\n\t\t<a>1</a>\n"
	    "\t\t<b>2</b>\n\t</Row>\n</Data>\n", "CRLF");
	check_out("a,b\n1,2", DECL "<Data>\n\t<Row>\n\t\t<a>1</a>\n"
	    "\t\t<b>2</b>\n\t</Row>\n</Data>\n", "no final newline");
	check_out("\xEF\xBB\xBF" "a\n1\n", DECL "<Data>\n\t<Row>\n"
	    "\t\t<a>1</a>\n\t</Row>\n</Data>\n", "BOM skipped");
	check_out("a,b\n\"1,5\",\"say \"\"hi\"\"\"\n", DECL "<Data>\n\t<Row>\n"
	    "\t\t<a>1,5</a>\n\t\t<b>say \"hi\"</b>\n\t</Row>\n</Data>\n",
	    "quoted comma and doubled quotes");
	check_out("a\n\"x\r\ny\"\n", DECL "<Data>\n\t<Row>\n"
	    "\t\t<a>x&#13;\ny</a>\n\t</Row>\n</Data>\n",
	    "CRLF inside quotes kept exactly");
	check_out("a\n<&>\n", DECL "<Data>\n\t<Row>\n"
	    "\t\t<a>&lt;&amp;&gt;</a>\n\t</Row>\n</Data>\n", "escaping");
	check_out("a,b,c\n1\n", DECL "<Data>\n\t<Row>\n\t\t<a>1</a>\n"
	    "\t\t<b/>\n\t\t<c/>\n\t</Row>\n</Data>\n", "short row padded");
	check_out("a,b\n1,\n", DECL "<Data>\n\t<Row>\n\t\t<a>1</a>\n"
	    "\t\t<b/>\n\t</Row>\n</Data>\n", "trailing empty field");
	check_out("a\n\n1\n\n\n2\n", DECL "<Data>\n\t<Row>\n\t\t<a>1</a>\n"
	    "\t</Row>\n\t<Row>\n\t\t<a>2</a>\n\t</Row>\n</Data>\n",
	    "empty lines skipped");
	check_out("a\n\"\"\n", DECL "<Data>\n\t<Row>\n\t\t<a/>\n\t</Row>\n"
	    "</Data>\n", "a quoted empty field is a row");
	check_out("a,b\n", DECL "<Data>\n</Data>\n", "header only");
	check_out("a\nx\"y\n", DECL "<Data>\n\t<Row>\n\t\t<a>x\"y</a>\n"
	    "\t</Row>\n</Data>\n", "quote inside an unquoted field");
	check_out("Adj Close,1st,a:b,xmlfoo,,Close,Close,Prix §\nv,v,v,v,v,"
	    "v,v,v\n", DECL "<Data>\n\t<Row>\n\t\t<AdjClose>v</AdjClose>\n"
	    "\t\t<_1st>v</_1st>\n\t\t<a_b>v</a_b>\n"
	    "\t\t<_xmlfoo>v</_xmlfoo>\n\t\t<Column5>v</Column5>\n"
	    "\t\t<Close>v</Close>\n\t\t<Close_2>v</Close_2>\n"
	    "\t\t<Prix_>v</Prix_>\n\t</Row>\n</Data>\n", "header rewrites");
	check_out("价格,Öffnung\n1,2\n", DECL "<Data>\n\t<Row>\n"
	    "\t\t<价格>1</价格>\n\t\t<Öffnung>2</Öffnung>\n\t</Row>\n"
	    "</Data>\n", "non-ASCII names kept");
	check_out("a\xF0\x9F\x98\x80,b\xEF\xBB\xBF" "c\n1,2\n", DECL "<Data>\n"
	    "\t<Row>\n\t\t<a_>1</a_>\n\t\t<b_c>2</b_c>\n\t</Row>\n"
	    "</Data>\n", "emoji and U+FEFF in names become '_'");
}

static void
test_errors(void)
{
	check_err("", 0, "line 1: no header row", "empty input");
	check_err("\xEF\xBB\xBF", 3, "line 1: no header row", "only a BOM");
	check_err("\n\n", 2, "line 3: no header row", "only empty lines");
	check_err("a,b\n1,2,3\n", 10,
	    "line 2: the record has more fields than the header's 2",
	    "long row");
	check_err("a\nok\nb\xff" "c\n", 9,
	    "line 3, column 2: invalid UTF-8", "invalid byte");
	check_err("a\n\xC0\xAF\n", 5, "line 2, column 1: invalid UTF-8",
	    "overlong");
	check_err("a\n\xED\xA0\x80\n", 6, "line 2, column 1: invalid UTF-8",
	    "surrogate: the column of its first byte");
	check_err("a\nx\xE2\x82\n", 6, "line 2, column 2: invalid UTF-8",
	    "truncated sequence");
	check_err("a\nxy\xE2\x82", 6, "line 2, column 3: invalid UTF-8 (the "
	    "input ends inside a character)", "truncated at the end");
	check_err("a\nx\ry\n", 6, "line 2, column 2: a CR outside quotes "
	    "must be followed by LF", "lone CR");
	check_err("a\nx\r", 4, "line 2, column 2: a CR outside quotes "
	    "must be followed by LF", "lone CR at the end of the input");
	check_err("a\r", 2, "line 1, column 2: a CR outside quotes "
	    "must be followed by LF", "lone CR ending the header and input");
	check_err("a\n\xEF\xBF\xBF\n", 6,
	    "line 2, column 1: U+FFFE and U+FFFF are not allowed in XML",
	    "U+FFFF");
	check_err("a\nx\0y\n", 6, "line 2, column 2: NUL byte", "NUL");
	check_err("a\n\"p\nq\x01\"\n", 9, "line 3, column 2: control "
	    "character not allowed in XML", "control in a quoted field");
	check_err("a\n\"open\n", 8,
	    "line 2: quoted field not closed at the end of the input",
	    "unclosed quote");
	check_err("a\n\"x\"y\n", 7, "line 2, column 4: only a comma or the "
	    "end of the record may follow a closing quote", "junk after quote");
	check_err("\xEF\xBB\xBF" "a\n\x01\n", 7, "line 2, column 1: control "
	    "character not allowed in XML", "column counts after the BOM");
}

static void
test_limits(void)
{
	struct csv2xml_limits	 lim = { 8, 3, 0 };
	struct result		 r;

	convert("a,b,c\n12345678,1\n", 17, 0, &lim, &r);
	ok(r.rv == 0, "a field of exactly the limit converts");
	free(r.out);
	convert("a,b,c\n123456789,1\n", 18, 0, &lim, &r);
	is_str(r.err, "line 2: a field is longer than 8 bytes (the limit)",
	    "a longer field is refused");
	free(r.out);
	convert("a,b,c\n\"123456789\"\n", 18, 3, &lim, &r);
	is_str(r.err, "line 2: a field is longer than 8 bytes (the limit)",
	    "a longer quoted field is refused, in chunks too");
	free(r.out);
	convert("a,b,c,d\n1\n", 10, 0, &lim, &r);
	is_str(r.err, "line 1: the header has more than 3 columns (the limit)",
	    "too many columns refused");
	free(r.out);
}

/* Every way of cutting the input in two gives the same result. */
static void
test_chunking(void)
{
	static const char *inputs[] = {
		"\xEF\xBB\xBF" "Date,Adj Close\r\n2026-01-01,\"1,5\"\r\n"
		    "\"x\"\"y\",\"multi\nline\"\r\n\r\nv,<&>\n",
		"a,b\nä€\xF0\x9F\x98\x80,z\n",
		"a\n\"x\r\ny\"",
		"a,b\n1,2,3\n",
	};
	struct result	 whole, part;
	size_t		 i, len, cut, bad = 0, chunk;

	for (i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		len = strlen(inputs[i]);
		convert(inputs[i], len, 0, NULL, &whole);
		for (chunk = 1; chunk <= len; chunk++) {
			convert(inputs[i], len, chunk, NULL, &part);
			if (part.rv != whole.rv || strcmp(part.out,
			    whole.out) != 0 || strcmp(part.err, whole.err) != 0)
				bad++;
			free(part.out);
		}
		for (cut = 1; cut < len; cut++) {
			xmlBufferPtr b = xmlBufferCreate();
			xmlOutputBufferPtr ob = xmlOutputBufferCreateBuffer(b,
			    NULL);
			struct csv2xml *c = csv2xml_new(ob, NULL);
			char err[sizeof whole.err] = "";
			int rv = csv2xml_feed(c, inputs[i], cut, err,
			    sizeof err);

			if (rv == 0)
				rv = csv2xml_feed(c, inputs[i] + cut,
				    len - cut, err, sizeof err);
			if (rv == 0)
				rv = csv2xml_finish(c, err, sizeof err);
			if (rv != whole.rv || strcmp(err, whole.err) != 0)
				bad++;
			csv2xml_free(c);
			xmlOutputBufferClose(ob);
			if (rv == 0 && strcmp((const char *)
			    xmlBufferContent(b), whole.out) != 0)
				bad++;
			xmlBufferFree(b);
		}
		free(whole.out);
	}
	is_int(bad, 0, "output and errors do not depend on chunking");
}

static void
test_stats_and_parse(void)
{
	const char	*in = "Date,Open\n1,2\n3,4\n5,6\n";
	struct result	 r;
	xmlDocPtr	 doc;
	xmlNodePtr	 root, row;
	int		 rows = 0;

	convert(in, strlen(in), 0, NULL, &r);
	is_int(r.st.rows, 3, "stats: rows");
	is_int(r.st.bytes_in, strlen(in), "stats: bytes in");
	is_int(r.st.bytes_out, strlen(r.out), "stats: bytes out");
	doc = xmlReadMemory(r.out, (int)strlen(r.out), NULL, "UTF-8", 0);
	ok(doc != NULL, "libxml2 parses the output");
	root = xmlDocGetRootElement(doc);
	for (row = root->children; row != NULL; row = row->next)
		rows += row->type == XML_ELEMENT_NODE;
	is_int(rows, 3, "three Row elements");
	xmlFreeDoc(doc);
	free(r.out);
}

static void
test_colname(void)
{
	const char	*raw[] = { "a", "a", "a_2", "a", " ", "9", "-x" };
	size_t		 lens[] = { 1, 1, 3, 1, 1, 1, 2 };
	char		**n = colname_rewrite(raw, lens, 7);

	is_str(n[0], "a", "first a");
	is_str(n[1], "a_2", "second a");
	is_str(n[2], "a_2_2", "a literal a_2 after a generated one");
	is_str(n[3], "a_3", "third a");
	is_str(n[4], "Column5", "whitespace-only name");
	is_str(n[5], "_9", "digit first");
	is_str(n[6], "_-x", "hyphen first");
	colname_free(n, 7);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * 50,000 repeats of one name: each used to search its suffix from _2
 * (quadratic, a minute for 32,000); now linear. The deadline is loose
 * enough for a loaded machine, far below what quadratic work takes.
 */
static void
test_colname_many_repeats(void)
{
	enum { N = 50000 };
	const char	**raw = calloc(N, sizeof *raw);
	size_t		 *lens = calloc(N, sizeof *lens);
	char		**n, **sorted, want[32];
	struct timespec	  t0, t1;
	double		  s;
	unsigned	  i, bad = 0, dup = 0;

	for (i = 0; i < N; i++) {
		raw[i] = "a";
		lens[i] = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = colname_rewrite(raw, lens, N);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok(s < 5.0, "50,000 repeated names renamed in %.3f s (< 5 s)", s);
	for (i = 1; i < N; i++) {
		snprintf(want, sizeof want, "a_%u", i + 1);
		if (strcmp(n[i], want) != 0)
			bad++;
	}
	ok(strcmp(n[0], "a") == 0 && bad == 0,
	    "repeats named a, a_2, ... a_50000 as before");
	sorted = calloc(N, sizeof *sorted);
	memcpy(sorted, n, N * sizeof *sorted);
	qsort(sorted, N, sizeof *sorted, cmp_str);
	for (i = 1; i < N; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			dup++;
	ok(dup == 0, "all 50,000 names unique");
	free(sorted);
	colname_free(n, N);
	free(lens);
	free(raw);
}

/* A small output buffer (the fuzzer's) gives the same bytes as 256 KiB,
 * with many columns (the general path) and few (the fast path). */
static void
test_small_buffer(void)
{
	struct csv2xml_limits	 small = { CSV2XML_MAX_FIELD,
				    CSV2XML_MAX_COLUMNS, 512 };
	struct result		 a, b;
	char			*in;
	size_t			 len = 0, cap = 1 << 20;
	int			 i, j, w;

	for (w = 0; w < 2; w++) {
		in = malloc(cap);
		len = 0;
		for (j = 0; j < (w ? 60 : 4); j++)
			len += (size_t)snprintf(in + len, cap - len, "%scol%d",
			    j ? "," : "", j);
		in[len++] = '\n';
		for (i = 0; i < 2000; i++) {
			for (j = 0; j < (w ? 60 : 4); j++)
				len += (size_t)snprintf(in + len, cap - len,
				    "%s%d.%d", j ? "," : "", i, j);
			in[len++] = '\n';
		}
		convert(in, len, 0, NULL, &a);
		convert(in, len, 0, &small, &b);
		ok(a.rv == 0 && b.rv == 0 && strcmp(a.out, b.out) == 0,
		    "a 512-byte output buffer gives the same XML (%s columns)",
		    w ? "60" : "4");
		free(a.out);
		free(b.out);
		free(in);
	}
}


/* --- one file on several threads (csv2xml_par.c) --- */

struct text {
	char	*p;
	size_t	 len, cap;
};

static void __attribute__((format(printf, 2, 3)))
add(struct text *t, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if ((size_t)n < t->cap - t->len)
			break;
		t->cap = t->cap * 2 + (size_t)n;
		t->p = realloc(t->p, t->cap);
	}
	t->len += (size_t)n;
}

/* Price rows up to about `upto` bytes. */
static void
add_rows(struct text *t, size_t upto, const char *eol)
{
	unsigned	i = 0;

	while (t->len < upto) {
		add(t, "2026-%02u-%02u,%u.%03u,%u%s", i % 12 + 1, i % 28 + 1,
		    i % 500, i % 1000, i * 7, eol);
		i++;
	}
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	char	*p;
	long	 n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	*len = fread(p, 1, (size_t)n, f);
	p[*len] = '\0';
	fclose(f);
	return p;
}

/*
 * Converts t on one thread and on `threads`: the same output bytes, the
 * same error (position included), the same counts, and no file left by
 * a failure.
 */
static void
same_as_serial(const struct text *t, unsigned threads, const char *name,
    int kept, int redone)
{
	char			 dir[] = "/tmp/test_csv2xml.XXXXXX";
	char			 in[64], out1[64], outn[64], e1[256], en[256];
	struct csv2xml_stats	 s1, sn;
	char			*x1 = NULL, *xn = NULL;
	size_t			 l1 = 0, ln = 0;
	int			 r1, rn;
	FILE			*f;

	if (mkdtemp(dir) == NULL) {
		ok(0, "%s: mkdtemp: %s", name, strerror(errno));
		return;
	}
	snprintf(in, sizeof in, "%s/in.csv", dir);
	snprintf(out1, sizeof out1, "%s/one.xml", dir);
	snprintf(outn, sizeof outn, "%s/many.xml", dir);
	f = fopen(in, "wb");
	fwrite(t->p, 1, t->len, f);
	fclose(f);
	e1[0] = en[0] = '\0';
	r1 = csv2xml_file(in, out1, NULL, 1, &s1, e1, sizeof e1);
	rn = csv2xml_file(in, outn, NULL, threads, &sn, en, sizeof en);
	if (r1 == 0)
		x1 = slurp(out1, &l1);
	if (rn == 0)
		xn = slurp(outn, &ln);
	ok(r1 == rn && strcmp(e1, en) == 0 && l1 == ln &&
	    (x1 == NULL) == (xn == NULL) &&
	    (x1 == NULL || memcmp(x1, xn, l1) == 0) &&
	    s1.rows == sn.rows && s1.bytes_in == sn.bytes_in &&
	    s1.bytes_out == sn.bytes_out,
	    "%s: %u threads as one (%s, %zu bytes in)", name, threads,
	    r1 == 0 ? "converted" : e1, t->len);
	if (r1 != 0)
		ok(access(outn, F_OK) != 0,
		    "%s: nothing left behind by the failure", name);
	else
		ok(s1.segments_kept == 0 && s1.segments_redone == 0 &&
		    (sn.segments_kept > 0) == kept &&
		    (sn.segments_redone > 0) == redone,
		    "%s: %llu segments kept, %llu converted again", name,
		    (unsigned long long)sn.segments_kept,
		    (unsigned long long)sn.segments_redone);
	free(x1);
	free(xn);
	unlink(in);
	unlink(out1);
	unlink(outn);
	rmdir(dir);
}

static void
test_parallel(void)
{
	struct text	t = { NULL, 0, 0 };
	size_t		i;

	/* Plain rows over several 256 KiB segments; LF, CRLF, no last LF. */
	add(&t, "Date,Close,Volume\n");
	add_rows(&t, 1500000, "\n");
	same_as_serial(&t, 2, "plain rows", 1, 0);
	same_as_serial(&t, 4, "plain rows", 1, 0);
	t.len--;
	same_as_serial(&t, 2, "no LF at the end", 1, 1);
	t.len = 0;
	add(&t, "\xEF\xBB\xBF" "Date,Close,Volume\r\n");
	add_rows(&t, 1200000, "\r\n");
	same_as_serial(&t, 3, "CRLF and a BOM", 1, 0);

	/* A quoted field full of line feeds across the first cut, others
	 * later, and text to escape: segments guessed wrong are redone. */
	t.len = 0;
	add(&t, "Date,Note,Volume\n");
	add_rows(&t, 262144 - 3000, "\n");
	add(&t, "2026-01-01,\"");
	for (i = 0; i < 600; i++)
		add(&t, "line %zu\n", i);
	add(&t, "\",1\n");
	for (i = 0; i < 20000; i++)
		add(&t, i % 37 ? "2026-02-%02zu,a & b < c,%zu\n" :
		    "2026-02-%02zu,\"two\nlines\",%zu\n", i % 28 + 1, i);
	same_as_serial(&t, 2, "quoted line breaks across cuts", 1, 1);

	/* Errors late in the input: the same message and position. */
	t.len = 0;
	add(&t, "Date,Close,Volume\n");
	add_rows(&t, 900000, "\n");
	add(&t, "2026-03-03,1.5,\xC3\x28\n");
	add_rows(&t, 1200000, "\n");
	same_as_serial(&t, 2, "invalid UTF-8 in the 4th segment", 0, 0);
	t.len = 0;
	add(&t, "Date,Close,Volume\n");
	add_rows(&t, 700000, "\n");
	add(&t, "2026-03-03,1.5,2,3\n");
	add_rows(&t, 1000000, "\n");
	same_as_serial(&t, 2, "a record with too many fields", 0, 0);

	/* A segment with no line feed at all: a 600 KB field. */
	t.len = 0;
	add(&t, "Date,Blob,Volume\n");
	add_rows(&t, 300000, "\n");
	add(&t, "2026-04-04,");
	for (i = 0; i < 600000 / 50; i++)
		add(&t, "%s", "0123456789012345678901234567890123456789"
		    "0123456789");
	add(&t, ",1\n");
	add_rows(&t, 1500000, "\n");
	same_as_serial(&t, 2, "a field longer than a segment", 1, 1);

	/* Output many times the input: over the segment cap, done serially. */
	t.len = 0;
	for (i = 0; i < 60; i++)
		add(&t, "%sa_rather_long_column_name_%02zu", i ? "," : "", i);
	add(&t, "\n");
	while (t.len < 1000000) {
		for (i = 0; i < 59; i++)
			add(&t, ",");
		add(&t, "\n");
	}
	same_as_serial(&t, 2, "empty fields under long names", 0, 1);
	free(t.p);
}

int
main(void)
{
	test_cases();
	test_errors();
	test_limits();
	test_chunking();
	test_stats_and_parse();
	test_colname();
	test_colname_many_repeats();
	test_small_buffer();
	test_parallel();
	xmlCleanupParser();
	return tap_done();
}
