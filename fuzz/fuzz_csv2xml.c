/*
 * fuzz_csv2xml.c - libFuzzer harness for the CSV to XML converter.
 *
 * Each input is converted twice: in one piece, and cut into chunks whose
 * sizes come from the input's first byte. Both runs must agree on
 * success or failure and, on success, on every output byte; and every
 * successful output must parse as XML with libxml2. Small limits keep
 * the limit paths reachable.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlIO.h>

#include "stock/csv2xml.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct run {
	xmlBufferPtr	 buf;
	int		 rv;
};

static void
convert(const uint8_t *data, size_t size, size_t chunk, struct run *r)
{
	const struct csv2xml_limits	 lim = { 512, 32, 4096 };
	xmlOutputBufferPtr		 ob;
	struct csv2xml			*c;
	size_t				 off, n;
	char				 err[256] = "";

	r->buf = xmlBufferCreate();
	ob = xmlOutputBufferCreateBuffer(r->buf, NULL);
	c = csv2xml_new(ob, &lim);
	r->rv = 0;
	for (off = 0; off < size && r->rv == 0; off += n) {
		n = size - off < chunk ? size - off : chunk;
		r->rv = csv2xml_feed(c, (const char *)data + off, n, err,
		    sizeof err);
	}
	if (r->rv == 0)
		r->rv = csv2xml_finish(c, err, sizeof err);
	if (r->rv != 0 && err[0] == '\0')
		abort();		/* a failure must say why */
	csv2xml_free(c);
	xmlOutputBufferClose(ob);
}

static void
quiet(void *ctx, const char *msg, ...)
{
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run	whole, pieces;
	xmlDocPtr	doc;
	size_t		chunk;

	xmlSetGenericErrorFunc(NULL, quiet);
	chunk = size > 0 ? (size_t)data[0] % 7 + 1 : 1;
	convert(data, size, size > 0 ? size : 1, &whole);
	convert(data, size, chunk, &pieces);

	if (whole.rv != pieces.rv)
		abort();
	if (whole.rv == 0) {
		if (xmlBufferLength(whole.buf) != xmlBufferLength(pieces.buf) ||
		    memcmp(xmlBufferContent(whole.buf),
		    xmlBufferContent(pieces.buf),
		    (size_t)xmlBufferLength(whole.buf)) != 0)
			abort();
		doc = xmlReadMemory((const char *)xmlBufferContent(whole.buf),
		    xmlBufferLength(whole.buf), "fuzz.xml", "UTF-8",
		    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
		if (doc == NULL)
			abort();	/* the output must be well-formed */
		xmlFreeDoc(doc);
	}
	xmlBufferFree(whole.buf);
	xmlBufferFree(pieces.buf);
	return 0;
}
