/*
 * cmd_csv2xml.c - `stockcam csv2xml [IN.csv|-] [OUT.xml|-]`, or
 * `stockcam csv2xml --out-dir DIR IN.csv...`.
 *
 * The converter on its own, as a Unix filter: silent on success, one
 * line naming the input and the position on failure. With --out-dir,
 * each input becomes DIR/NAME.xml (NAME: its base name without .csv),
 * one process for many files; a file that fails is named and the rest
 * go on. Exit status 0 converted, 1 conversion or I/O error, 2 usage
 * error.
 */
#include "config.h"

#include <sys/resource.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd_csv2xml.h"
#include "lib/mono.h"
#include "lib/xmalloc.h"
#include "stock/csv2xml.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: stockcam csv2xml [--max-field-size BYTES] "
	    "[--max-columns N] [--stats] [IN.csv|-] [OUT.xml|-]\n"
	    "       stockcam csv2xml [OPTION]... --out-dir DIR IN.csv...\n"
	    "Converts a CSV file (RFC 4180) with a header row to XML.\n"
	    "  --out-dir DIR           write each IN as DIR/NAME.xml\n"
	    "  --max-field-size BYTES  longest field accepted (%d)\n"
	    "  --max-columns N         most header columns accepted (%d)\n"
	    "  --stats                 print rows, bytes, time and peak "
	    "memory to stderr\n",
	    CSV2XML_MAX_FIELD, CSV2XML_MAX_COLUMNS);
}

/* DIR/NAME.xml for IN: its base name, a ".csv" ending replaced. */
static char *
csv2xml_out_name(const char *dir, const char *in)
{
	const char	*base = strrchr(in, '/');
	char		*path;
	size_t		 len;

	base = base != NULL ? base + 1 : in;
	len = strlen(base);
	if (len > 4 && strcmp(base + len - 4, ".csv") == 0)
		len -= 4;
	xasprintf(&path, "%s/%.*s.xml", dir, (int)len, base);
	return path;
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
		{ "out-dir", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct csv2xml_limits	 lim = { CSV2XML_MAX_FIELD,
				    CSV2XML_MAX_COLUMNS, 0 };
	struct csv2xml_stats	 st, sum;
	struct timespec		 t0, t1;
	struct rusage		 ru;
	const char		*in = "-", *out = "-", *dir = NULL;
	char			 err[512], *path;
	unsigned long		 v;
	int			 ch, i, stats = 0, rv = 0;
	long			 ncpu;
	unsigned		 threads;

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
		case 'o':
			dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (dir != NULL ? optind == argc : argc - optind > 2) {
		usage(stderr);
		return 2;
	}
	if (dir == NULL && optind < argc)
		in = argv[optind];
	if (dir == NULL && optind + 1 < argc)
		out = argv[optind + 1];

	/* A large file is converted on every core (csv2xml_par.c). */
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	threads = ncpu > 1 ? (unsigned)ncpu : 1;
	memset(&sum, 0, sizeof sum);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = dir != NULL ? optind : argc; dir == NULL || i < argc; i++) {
		path = NULL;
		if (dir != NULL) {
			in = argv[i];
			path = csv2xml_out_name(dir, in);
			out = path;
		}
		if (csv2xml_file(in, out, &lim, threads, &st, err,
		    sizeof err) != 0) {
			fprintf(stderr, "stockcam csv2xml: %s: %s\n",
			    strcmp(in, "-") == 0 ? "stdin" : in, err);
			rv = 1;
		} else {
			sum.rows += st.rows;
			sum.bytes_in += st.bytes_in;
			sum.bytes_out += st.bytes_out;
		}
		free(path);
		if (dir == NULL)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (stats && rv == 0) {
		getrusage(RUSAGE_SELF, &ru);
		fprintf(stderr, "rows=%llu bytes_in=%llu bytes_out=%llu "
		    "seconds=%.3f maxrss_kb=%ld\n",
		    (unsigned long long)sum.rows,
		    (unsigned long long)sum.bytes_in,
		    (unsigned long long)sum.bytes_out,
		    mono_diff_s(&t0, &t1), ru.ru_maxrss);
	}
	return rv;
}
