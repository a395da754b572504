/* test_names.c - symbols, work files and archive entries, both ways. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "stock/names.h"
#include "tap.h"

static void
test_symbols(void)
{
	static const char *const good[] = { "AAPL", "000001.sz", "^GSPC",
	    "BRK-B", "EURUSD=X", "a_b", "9", "^",
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345" };
	static const char *const bad[] = { "", ".AAPL", "-X", "=X", "_X",
	    "A B", "A/B", "A%", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
	    "\xc3\xa9", "A\nB" };
	size_t	i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		ok(names_symbol_ok(good[i]), "'%s' is a symbol", good[i]);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(!names_symbol_ok(bad[i]), "'%s' is not", bad[i]);
	is_int(strlen(good[8]), NAMES_SYMBOL_MAX, "the longest is the limit");
}

static void
test_symbol_files(void)
{
	char	sym[NAMES_SYMBOL_MAX + 1];

	is_int(names_symbol_file("AAPL.xml", ".xml", sym), 0, "AAPL.xml");
	is_str(sym, "AAPL", "gives AAPL");
	is_int(names_symbol_file("BRK-B.csv", ".csv", sym), 0, "BRK-B.csv");
	is_str(sym, "BRK-B", "gives BRK-B");
	is_int(names_symbol_file("AAPL.csv", ".xml", sym), -1,
	    "another extension");
	is_int(names_symbol_file(".xml", ".xml", sym), -1, "no symbol");
	is_int(names_symbol_file("xml", ".xml", sym), -1, "shorter than .xml");
	is_int(names_symbol_file("A B.xml", ".xml", sym), -1, "not a symbol");
	is_int(names_symbol_file("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345.xml",
	    ".xml", sym), 0, "the longest symbol");
	is_int(names_symbol_file("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456.xml",
	    ".xml", sym), -1, "one longer");
}

static void
test_work_files(void)
{
	char	*p, *e;

	p = names_work_file("/d/xml", "6650a1b2", 42, "BRK-B", "xml");
	is_str(p, "/d/xml/6650a1b2-42-BRK-B.xml", "a work file");
	e = names_entry_of_work_file(strrchr(p, '/') + 1);
	is_str(e, "42/BRK-B.xml", "read back as its entry");
	free(e);
	e = names_entry(42, "BRK-B");
	is_str(e, "42/BRK-B.xml", "the same entry as names_entry");
	free(e);
	free(p);

	ok(names_entry_of_work_file("6650a1b2-42-AAPL.csv") == NULL,
	    "a CSV has no entry");
	ok(names_entry_of_work_file(".6650a1b2-42-AAPL.xml") == NULL,
	    "a hidden file is no work file");
	ok(names_entry_of_work_file("6650a1b2-x-AAPL.xml") == NULL,
	    "a job id must be digits");
	ok(names_entry_of_work_file("6650a1b2--AAPL.xml") == NULL,
	    "and there must be one");
	ok(names_entry_of_work_file("AAPL.xml") == NULL, "no run, no job");
}

int
main(void)
{
	test_symbols();
	test_symbol_files();
	test_work_files();
	return tap_done();
}
