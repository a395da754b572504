/*
 * cmd_csv2xml.c - `stockcam csv2xml [IN.csv|-] [OUT.xml|-]`.
 *
 * The converter on its own, as a Unix filter: silent on success, one
 * line naming the input and the position on failure. Exit status 0
 * converted, 1 conversion or I/O error, 2 usage error.
 */
#include "config.h"

#include <sys/resource.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd_csv2xml.h"
#include "lib/mono.h"
#include "stock/csv2xml.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: stockcam csv2xml [--max-field-size BYTES] "
	    "[--max-columns N] [--stats] [IN.csv|-] [OUT.xml|-]\n"
	    "Converts a CSV file (RFC 4180) with a header row to XML.\n"
	    "  --max-field-size BYTES  longest field accepted (%d)\n"
	    "  --max-columns N         most header columns accepted (%d)\n"
	    "  --stats                 print rows, bytes, time and peak "
	    "memory to stderr\n",
	    CSV2XML_MAX_FIELD, CSV2XML_MAX_COLUMNS);
}

static int
parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || strchr(s, '-') ||
	    v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

int
cmd_csv2xml_main(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "max-field-size", required_argument, NULL, 'f' },
		{ "max-columns", required_argument, NULL, 'c' },
		{ "stats", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct csv2xml_limits	 lim = { CSV2XML_MAX_FIELD,
				    CSV2XML_MAX_COLUMNS, 0 };
	struct csv2xml_stats	 st;
	struct timespec		 t0, t1;
	struct rusage		 ru;
	const char		*in = "-", *out = "-";
	char			 err[512];
	unsigned long		 v;
	int			 ch, stats = 0;

	csv2xml_global_init();
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (parse_count(optarg, 1UL << 30, &v) != 0) {
				fprintf(stderr, "stockcam csv2xml: "
				    "--max-field-size: '%s' is not from 1 to "
				    "%lu\n", optarg, 1UL << 30);
				return 2;
			}
			lim.max_field = v;
			break;
		case 'c':
			if (parse_count(optarg, 1000000, &v) != 0) {
				fprintf(stderr, "stockcam csv2xml: "
				    "--max-columns: '%s' is not from 1 to "
				    "1000000\n", optarg);
				return 2;
			}
			lim.max_columns = (unsigned)v;
			break;
		case 's':
			stats = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind > 2) {
		usage(stderr);
		return 2;
	}
	if (optind < argc)
		in = argv[optind];
	if (optind + 1 < argc)
		out = argv[optind + 1];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (csv2xml_file(in, out, &lim, 1, &st, err, sizeof err) != 0) {
		fprintf(stderr, "stockcam csv2xml: %s: %s\n",
		    strcmp(in, "-") == 0 ? "stdin" : in, err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (stats) {
		getrusage(RUSAGE_SELF, &ru);
		fprintf(stderr, "rows=%llu bytes_in=%llu bytes_out=%llu "
		    "seconds=%.3f maxrss_kb=%ld\n",
		    (unsigned long long)st.rows,
		    (unsigned long long)st.bytes_in,
		    (unsigned long long)st.bytes_out,
		    mono_diff_s(&t0, &t1), ru.ru_maxrss);
	}
	return 0;
}
