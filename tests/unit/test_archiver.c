/*
 * test_archiver.c - the archiver on real files: batches and flush, unique
 * entry names, numbering across restarts, stale temporary files, one bad
 * file, a failed archive, a 64 MB file, pending files at free, gzip
 * levels, several threads, an archive of many gzip members, and kill -9
 * at random moments. Every archive is read back with
 * libarchive and compared byte for byte (by size and checksum).
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <event2/event.h>
#ifdef HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include "lib/compq.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "stock/archiver.h"
#include "tap.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER	1
#endif
#endif

#define CHUNK		(64 * 1024)

static struct event_base	*base;
static struct compq		*cq;
static pthread_t		 loop_thread;
static char			 top[] = "/tmp/test_archiver.XXXXXX";

static void __attribute__((noreturn, format(printf, 1, 2)))
bail(const char *fmt, ...)
{
	va_list	ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(": %s\n", strerror(errno));
	exit(1);
}

/* --- files --- */

/*
 * A checksum fed in pieces of any size: eight bytes at a time, so that
 * 64 MB costs little even under a sanitizer.
 */
struct sum {
	uint64_t	h;
	uint64_t	w;		/* bytes waiting for a whole word */
	unsigned	n;
};

static void
sum_word(struct sum *s, uint64_t w)
{
	s->h = (s->h ^ w) * 0x100000001b3ULL;
	s->h ^= s->h >> 29;
}

static void
sum_add(struct sum *s, const void *p, size_t n)
{
	const unsigned char	*c = p;
	uint64_t		 w;

	for (; n > 0 && s->n != 0; n--) {
		s->w |= (uint64_t)*c++ << (8 * s->n);
		if (++s->n == 8) {
			sum_word(s, s->w);
			s->w = s->n = 0;
		}
	}
	for (; n >= 8; n -= 8, c += 8) {
		memcpy(&w, c, 8);
		sum_word(s, w);
	}
	for (; n > 0; n--)
		s->w |= (uint64_t)*c++ << (8 * s->n++);
}

static uint64_t
sum_end(struct sum *s)
{
	if (s->n > 0)
		sum_word(s, s->w ^ ((uint64_t)s->n << 56));
	return s->h;
}

static uint64_t
sum_of(const void *p, size_t n)
{
	struct sum	s = { 0xcbf29ce484222325ULL, 0, 0 };

	sum_add(&s, p, n);
	return sum_end(&s);
}

static uint64_t
next_random(uint64_t *state)
{
	uint64_t	x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/*
 * Random-ish rows of stock prices: they compress about as well and as
 * fast as the real XML (to about a fifth).
 */
static void
fill_random(uint64_t *state, char *buf, size_t n)
{
	static const char	 row[] = "\t<Row>\n"
	    "\t\t<Date>2024-0#-1#</Date>\n"
	    "\t\t<Open>###.##</Open>\n"
	    "\t\t<Close>###.##</Close>\n"
	    "\t\t<Volume>#######</Volume>\n"
	    "\t</Row>\n";
	char			 tmp[sizeof row];
	uint64_t		 x;
	size_t			 i, k, len = sizeof row - 1;

	for (i = 0; i < n; i += len) {
		memcpy(tmp, row, len);
		x = next_random(state);
		for (k = 0; k < len; k++) {
			if (tmp[k] == '#') {
				tmp[k] = (char)('0' + x % 10);
				x /= 10;
			}
		}
		memcpy(buf + i, tmp, n - i < len ? n - i : len);
	}
}

static char *
sub(const char *dir, const char *name)
{
	char	*p;

	xasprintf(&p, "%s/%s", dir, name);
	return p;
}

static char *
newdir(const char *name)
{
	char	*p = sub(top, name);

	if (mkdir(p, 0755) != 0)
		bail("mkdir %s", p);
	return p;
}

static void
put_file(const char *path, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		bail("open %s", path);
	for (; len > 0; p += n, len -= (size_t)n) {
		if ((n = write(fd, p, len)) <= 0)
			bail("write %s", path);
	}
	if (close(fd) != 0)
		bail("close %s", path);
}

/* A file of `size` random-ish bytes from `seed`; returns its checksum. */
static uint64_t
put_random_file(const char *path, size_t size, uint64_t seed)
{
	char		*buf = xmalloc(1 << 20);
	struct sum	 sum = { 0xcbf29ce484222325ULL, 0, 0 };
	uint64_t	 state = seed * 2654435761ULL + 1;
	size_t		 n;
	ssize_t		 w;
	int		 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		bail("open %s", path);
	for (; size > 0; size -= n) {
		n = size < (1 << 20) ? size : (1 << 20);
		fill_random(&state, buf, n);
		sum_add(&sum, buf, n);
		if ((w = write(fd, buf, n)) < 0 || (size_t)w != n)
			bail("write %s", path);
	}
	if (close(fd) != 0)
		bail("close %s", path);
	free(buf);
	return sum_end(&sum);
}

static int
exists(const char *path)
{
	struct stat	st;

	return lstat(path, &st) == 0;
}

static long long
file_size(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* How many names in dir end with `suffix`. */
static int
count_suffix(const char *dir, const char *suffix)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 len, slen = strlen(suffix);
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		bail("opendir %s", dir);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len >= slen && strcmp(de->d_name + len - slen, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* --- reading archives back --- */

#define MAXENT	64
struct rd_entry {
	char		name[256];
	int64_t		size;		/* from the header */
	int64_t		got;		/* bytes read */
	uint64_t	hash;
	mode_t		mode;
	time_t		mtime;
};
struct rd {
	struct rd_entry	e[MAXENT];
	int		n;
	int		format;
	char		err[256];
};

/* 0 if the archive reads to its end and every entry to its header's size. */
static int
read_archive(const char *path, struct rd *rd)
{
	struct archive		*a;
	struct archive_entry	*ae;
	struct rd_entry		*e;
	struct sum		 sum;
	char			*buf = NULL;
	la_ssize_t		 n;
	int			 r, ret = -1;

	memset(rd, 0, sizeof *rd);
	if ((a = archive_read_new()) == NULL)
		bail("archive_read_new");
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, CHUNK) != ARCHIVE_OK) {
		snprintf(rd->err, sizeof rd->err, "open: %s",
		    archive_error_string(a));
		goto out;
	}
	buf = xmalloc(CHUNK);
	for (;;) {
		if ((r = archive_read_next_header(a, &ae)) == ARCHIVE_EOF) {
			ret = 0;
			break;
		}
		if (r != ARCHIVE_OK) {
			snprintf(rd->err, sizeof rd->err, "header: %s",
			    archive_error_string(a));
			break;
		}
		if (rd->n == MAXENT) {
			snprintf(rd->err, sizeof rd->err, "too many entries");
			break;
		}
		rd->format = archive_format(a);
		e = &rd->e[rd->n++];
		snprintf(e->name, sizeof e->name, "%s",
		    archive_entry_pathname(ae));
		e->size = archive_entry_size(ae);
		e->mode = archive_entry_mode(ae);
		e->mtime = archive_entry_mtime(ae);
		sum = (struct sum){ 0xcbf29ce484222325ULL, 0, 0 };
		while ((n = archive_read_data(a, buf, CHUNK)) > 0) {
			sum_add(&sum, buf, (size_t)n);
			e->got += n;
		}
		e->hash = sum_end(&sum);
		if (n < 0) {
			snprintf(rd->err, sizeof rd->err, "data of %s: %s",
			    e->name, archive_error_string(a));
			break;
		}
		if (e->got != e->size) {
			snprintf(rd->err, sizeof rd->err, "%s: %lld of %lld "
			    "bytes", e->name, (long long)e->got,
			    (long long)e->size);
			break;
		}
	}
out:
	free(buf);
	archive_read_free(a);
	return ret;
}

static struct rd_entry *
rd_find(struct rd *rd, const char *name)
{
	int	i;

	for (i = 0; i < rd->n; i++) {
		if (strcmp(rd->e[i].name, name) == 0)
			return &rd->e[i];
	}
	return NULL;
}

/* --- results, as the loop thread sees them --- */

#define MAXGOT	64
struct got {
	intptr_t	 token;
	char		*archive;
	char		*entry;
	char		*error;
};
static struct got	got[MAXGOT];
static unsigned		ngot, got_lost, got_wrong_thread;

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
on_done(const struct archiver_result *r, void *arg)
{
	struct got	*g;

	if (!pthread_equal(pthread_self(), loop_thread))
		got_wrong_thread++;
	if (ngot == MAXGOT) {
		got_lost++;
		return;
	}
	g = &got[ngot++];
	g->token = (intptr_t)r->token;
	g->archive = dup_or_null(r->archive);
	g->entry = dup_or_null(r->entry);
	g->error = dup_or_null(r->error);
}

static void
got_reset(void)
{
	unsigned	i;

	for (i = 0; i < ngot; i++) {
		free(got[i].archive);
		free(got[i].entry);
		free(got[i].error);
	}
	memset(got, 0, sizeof got);
	ngot = 0;
}

static struct got *
got_token(intptr_t token)
{
	unsigned	i;

	for (i = 0; i < ngot; i++) {
		if (got[i].token == token)
			return &got[i];
	}
	return NULL;
}

static unsigned
got_errors(void)
{
	unsigned	i, n = 0;

	for (i = 0; i < ngot; i++)
		n += got[i].error != NULL;
	return n;
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until n results have arrived, for at most secs. */
static int
wait_results(unsigned n, double secs)
{
	double	end = now() + secs;

	while (ngot < n && now() < end)
		event_base_loop(base, EVLOOP_ONCE);
	return ngot == n;
}

static unsigned	nthreads = 1;	/* packing threads for start() */

static struct archiver *
start(const char *dir, const char *prefix, unsigned batch, int level)
{
	struct archiver_options	 o = { dir, prefix, batch, level, nthreads };
	struct archiver		*ar;
	char			 err[256];

	if ((ar = archiver_new(&o, cq, on_done, NULL, err, sizeof err)) == NULL)
		bail("archiver_new %s: %s", dir, err);
	return ar;
}

static void
stop(struct archiver *ar)
{
	archiver_free(ar);
	compq_drain(cq);
}

/* --- the tests --- */

static int
refused(const struct archiver_options *o, char *err, size_t errlen)
{
	err[0] = '\0';
	return archiver_new(o, cq, on_done, NULL, err, errlen) == NULL &&
	    err[0] != '\0';
}

static void
test_options(void)
{
	struct archiver_options	 o;
	char			 err[256];
	char			*dir = newdir("opts"), *missing;
	int			 r;

	o = (struct archiver_options){ dir, "p", 0, 6, 0 };
	r = refused(&o, err, sizeof err);
	ok(r, "batch size 0 refused: %s", err);
	o = (struct archiver_options){ dir, "p", 1, ARCHIVER_GZIP_MAX + 1, 0 };
	r = refused(&o, err, sizeof err);
	ok(r, "gzip level %d refused: %s", ARCHIVER_GZIP_MAX + 1, err);
	o = (struct archiver_options){ dir, "a/b", 1, 6, 0 };
	r = refused(&o, err, sizeof err);
	ok(r, "prefix with '/' refused: %s", err);
	o = (struct archiver_options){ dir, ".p", 1, 6, 0 };
	r = refused(&o, err, sizeof err);
	ok(r, "prefix with a leading '.' refused: %s", err);
	missing = sub(dir, "missing");
	o = (struct archiver_options){ missing, "p", 1, 6, 0 };
	r = refused(&o, err, sizeof err) && errno == ENOENT;
	ok(r, "missing directory refused with ENOENT: %s", err);
	free(missing);
	free(dir);
}

/* 1: batches of 3 go out by themselves; a flush sends the last one. */
static void
test_batches(void)
{
	struct archiver		*ar;
	struct archiver_stats	 st;
	struct rd		 rd;
	struct rd_entry		*e = NULL;
	struct timespec		 times[2] = { { 1600000000, 0 },
				    { 1600000000, 0 } };
	char			*src = newdir("b-src"), *out = newdir("b-out");
	char			*paths[7], data[7][64], name[32], want[256];
	char			**names, *apath;
	size_t			 count, i;
	long long		 bytes = 0;
	int			 bad = 0, removed = 0;

	got_reset();
	for (i = 0; i < 7; i++) {
		snprintf(name, sizeof name, "sym%zu.xml", i);
		paths[i] = sub(src, name);
		/* File 0 is empty. */
		snprintf(data[i], sizeof data[i], "%.*s<Data>%zu</Data>\n",
		    (int)i, "\t\t\t\t\t\t\t", i);
		put_file(paths[i], data[i], i == 0 ? 0 : strlen(data[i]));
	}
	if (utimensat(AT_FDCWD, paths[1], times, 0) != 0)
		bail("utimensat");

	ar = start(out, "b", 3, 6);
	for (i = 0; i < 7; i++) {
		snprintf(name, sizeof name, "sym%zu.xml", i);
		archiver_add(ar, paths[i], name, (void *)(intptr_t)(i + 1));
	}
	ok(wait_results(6, 10), "two full batches packed without a flush");
	ok(!wait_results(7, 0.2), "the seventh file waits for its batch");
	archiver_get_stats(ar, &st);
	is_int(st.pending, 1, "stats: one file pending");
	archiver_flush(ar);
	ok(wait_results(7, 10), "flush packs the partial batch");
	is_int(got_wrong_thread, 0, "results delivered on the loop thread");

	for (i = 0; i < 7; i++) {
		struct got	*g = got_token((intptr_t)(i + 1));

		snprintf(want, sizeof want, "b-%06zu.tgz", i / 3 + 1);
		snprintf(name, sizeof name, "sym%zu.xml", i);
		if (g == NULL || g->error != NULL || g->archive == NULL ||
		    strcmp(g->archive, want) != 0 || g->entry == NULL ||
		    strcmp(g->entry, name) != 0) {
			diag("file %zu: archive %s entry %s error %s", i,
			    g && g->archive ? g->archive : "-",
			    g && g->entry ? g->entry : "-",
			    g && g->error ? g->error : "-");
			bad++;
		}
		removed += !exists(paths[i]);
	}
	is_int(bad, 0, "every result names its archive and entry");
	is_int(removed, 7, "every XML file removed after archiving");

	ok(archiver_list(out, "b", &names, &count) == 0 && count == 3,
	    "three archives listed");
	for (i = 0; i < count; i++) {
		snprintf(want, sizeof want, "b-%06zu.tgz", i + 1);
		is_str(names[i], want, "archive %zu is %s", i + 1, want);
		apath = sub(out, names[i]);
		bytes += file_size(apath);
		ok(read_archive(apath, &rd) == 0, "%s reads back: %s", want,
		    rd.err);
		is_int(rd.n, i < 2 ? 3 : 1, "%s has %d entries", want,
		    i < 2 ? 3 : 1);
		is_int(rd.format, ARCHIVE_FORMAT_TAR_USTAR, "%s is ustar",
		    want);
		free(apath);
	}
	bad = 0;
	for (i = 0; i < 7; i++) {
		snprintf(want, sizeof want, "%s/b-%06zu.tgz", out, i / 3 + 1);
		snprintf(name, sizeof name, "sym%zu.xml", i);
		if (read_archive(want, &rd) != 0 ||
		    (e = rd_find(&rd, name)) == NULL ||
		    e->hash != sum_of(data[i], i == 0 ? 0 :
		    strlen(data[i])) || e->mode != (AE_IFREG | 0644)) {
			diag("entry %s wrong or missing (mode %o)", name,
			    e ? (unsigned)e->mode : 0);
			bad++;
		} else if (i == 1 && e->mtime != 1600000000) {
			diag("mtime %lld", (long long)e->mtime);
			bad++;
		}
	}
	is_int(bad, 0, "every entry's bytes, mode 0644 and mtime match");
	archiver_list_free(names, count);

	archiver_get_stats(ar, &st);
	ok(st.archives == 3 && st.files == 7 && st.errors == 0 &&
	    st.pending == 0 && st.packing == 0, "stats: 3 archives, 7 files");
	is_int(st.bytes, bytes, "stats: bytes are the archives' sizes");
	is_int(count_suffix(out, ".tmp"), 0, "no temporary file left");
	stop(ar);
	for (i = 0; i < 7; i++)
		free(paths[i]);
	free(src);
	free(out);
}

/* 2: the same entry name twice in a batch is made unique. */
static void
test_duplicates(void)
{
	static const char *const asked[] = { "a.xml", "a.xml", "b", "a.xml",
	    "a-2.xml", "b", ".x", ".x" };
	static const char *const used[] = { "a.xml", "a-2.xml", "b",
	    "a-3.xml", "a-2-2.xml", "b-2", ".x", ".x-2" };
	struct archiver		*ar;
	struct rd		 rd;
	struct rd_entry		*e;
	struct got		*g;
	char			*src = newdir("d-src"), *out = newdir("d-out");
	char			*path, name[16], body[32], *apath;
	size_t			 i, n = sizeof asked / sizeof asked[0];
	int			 bad = 0;

	got_reset();
	ar = start(out, "d", 100, 6);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "f%zu", i);
		path = sub(src, name);
		snprintf(body, sizeof body, "<Data>%zu</Data>", i);
		put_file(path, body, strlen(body));
		archiver_add(ar, path, asked[i], (void *)(intptr_t)(i + 1));
		free(path);
	}
	archiver_flush(ar);
	ok(wait_results(n, 10), "duplicate names: all results");
	apath = sub(out, "d-000001.tgz");
	ok(read_archive(apath, &rd) == 0 && rd.n == (int)n,
	    "one archive with %zu entries", n);
	for (i = 0; i < n; i++) {
		g = got_token((intptr_t)(i + 1));
		snprintf(body, sizeof body, "<Data>%zu</Data>", i);
		if (g == NULL || g->error != NULL || g->entry == NULL ||
		    strcmp(g->entry, used[i]) != 0 ||
		    (e = rd_find(&rd, used[i])) == NULL ||
		    e->hash != sum_of(body, strlen(body))) {
			diag("%s -> %s (want %s)", asked[i],
			    g && g->entry ? g->entry : "-", used[i]);
			bad++;
		}
	}
	is_int(bad, 0, "names made unique deterministically, contents right");
	stop(ar);
	free(apath);
	free(src);
	free(out);
}

/* Archives one small file and returns the archive's name (or NULL). */
static char *
archive_one(struct archiver *ar, const char *src, const char *name)
{
	char	*path = sub(src, name), *archive;

	got_reset();
	put_file(path, name, strlen(name));
	archiver_add(ar, path, name, NULL);
	archiver_flush(ar);
	free(path);
	if (!wait_results(1, 10) || got[0].error != NULL)
		return NULL;
	archive = got[0].archive;
	got[0].archive = NULL;
	return archive;
}

/* 3: numbering survives restarts and never replaces a file. */
static void
test_restart(void)
{
	struct archiver_options	 o;
	struct archiver		*ar, *other;
	struct archiver_stats	 st;
	char			 err[256];
	char			*src = newdir("r-src"), *out = newdir("r-out");
	char			*junk9 = sub(out, "r-000009.tgz");
	char			*junk11 = sub(out, "r-000011.tgz");
	char			*a, **names;
	char			 buf[16];
	size_t			 count;
	FILE			*fp;

	ar = start(out, "r", 1, 6);
	a = archive_one(ar, src, "one.xml");
	is_str(a, "r-000001.tgz", "first archive is r-000001.tgz");
	free(a);
	a = archive_one(ar, src, "two.xml");
	is_str(a, "r-000002.tgz", "then r-000002.tgz");
	free(a);

	o = (struct archiver_options){ out, "r", 1, 6, 0 };
	err[0] = '\0';
	other = archiver_new(&o, cq, on_done, NULL, err, sizeof err);
	ok(other == NULL && err[0] != '\0',
	    "a second archiver on the same dir and prefix is refused: %s",
	    err);
	other = start(out, "other", 1, 6);
	a = archive_one(other, src, "three.xml");
	is_str(a, "other-000001.tgz", "another prefix in the same dir works");
	free(a);
	stop(other);
	stop(ar);

	put_file(junk9, "junk", 4);
	ar = start(out, "r", 1, 6);
	archiver_get_stats(ar, &st);
	is_int(st.next_seq, 10, "restart continues after the highest (9)");
	a = archive_one(ar, src, "four.xml");
	is_str(a, "r-000010.tgz", "next archive is r-000010.tgz");
	free(a);

	put_file(junk11, "junk", 4);	/* appears behind the archiver's back */
	a = archive_one(ar, src, "five.xml");
	is_str(a, "r-000012.tgz", "an existing r-000011.tgz is skipped");
	free(a);
	stop(ar);

	memset(buf, 0, sizeof buf);
	ok((fp = fopen(junk9, "r")) != NULL && fread(buf, 1, sizeof buf,
	    fp) == 4 && strcmp(buf, "junk") == 0, "r-000009.tgz untouched");
	if (fp != NULL)
		fclose(fp);
	memset(buf, 0, sizeof buf);
	ok((fp = fopen(junk11, "r")) != NULL && fread(buf, 1, sizeof buf,
	    fp) == 4 && strcmp(buf, "junk") == 0, "r-000011.tgz untouched");
	if (fp != NULL)
		fclose(fp);
	ok(archiver_list(out, "r", &names, &count) == 0 && count == 6 &&
	    strcmp(names[0], "r-000001.tgz") == 0 &&
	    strcmp(names[2], "r-000009.tgz") == 0 &&
	    strcmp(names[5], "r-000012.tgz") == 0,
	    "list: 6 names in sequence order");
	archiver_list_free(names, count);
	free(junk9);
	free(junk11);
	free(src);
	free(out);
}

/* 4: temporary files of a killed run are removed and never counted. */
static void
test_stale(void)
{
	static const char *const stale[] = { ".s-000001.tgz.tmp",
	    ".s-000050.tgz.tmp" };
	static const char *const kept[] = { ".other-000001.tgz.tmp",
	    ".s-x.tgz.tmp", "s-000007.tgz.tmp", "notes.txt" };
	struct archiver		*ar;
	struct archiver_stats	 st;
	char			*src = newdir("s-src"), *out = newdir("s-out");
	char			*p, *a, **names;
	size_t			 i, count;
	int			 gone = 0, there = 0;

	for (i = 0; i < 2; i++) {
		p = sub(out, stale[i]);
		put_file(p, "half an archive", 15);
		free(p);
	}
	for (i = 0; i < 4; i++) {
		p = sub(out, kept[i]);
		put_file(p, "x", 1);
		free(p);
	}
	ar = start(out, "s", 1, 6);
	for (i = 0; i < 2; i++) {
		p = sub(out, stale[i]);
		gone += !exists(p);
		free(p);
	}
	for (i = 0; i < 4; i++) {
		p = sub(out, kept[i]);
		there += exists(p);
		free(p);
	}
	is_int(gone, 2, "stale temporary files removed at start");
	is_int(there, 4, "other files (other prefix, other names) kept");
	archiver_get_stats(ar, &st);
	is_int(st.next_seq, 1, "temporary files do not count for numbering");
	ok(archiver_list(out, "s", &names, &count) == 0 && count == 0 &&
	    names == NULL, "temporary files are not listed");
	a = archive_one(ar, src, "x.xml");
	is_str(a, "s-000001.tgz", "first archive is s-000001.tgz");
	free(a);
	stop(ar);
	free(src);
	free(out);
}

/* 5: a vanished file, a FIFO and a bad name fail alone. */
static void
test_bad_files(void)
{
	struct archiver		*ar;
	struct archiver_stats	 st;
	struct rd		 rd;
	struct got		*g, *g3;
	char			*src = newdir("v-src"), *out = newdir("v-out");
	char			*pa = sub(src, "a"), *pb = sub(src, "b");
	char			*pc = sub(src, "c"), *pf = sub(src, "fifo");
	char			*apath = sub(out, "v-000001.tgz");

	got_reset();
	put_file(pa, "aaa", 3);
	put_file(pb, "bbb", 3);
	put_file(pc, "ccc", 3);
	if (mkfifo(pf, 0644) != 0)
		bail("mkfifo");
	ar = start(out, "v", 10, 6);
	archiver_add(ar, pa, "a.xml", (void *)1);
	archiver_add(ar, pb, "b.xml", (void *)2);
	archiver_add(ar, pc, "c.xml", (void *)3);
	archiver_add(ar, pf, "f.xml", (void *)4);
	archiver_add(ar, pc, "../evil.xml", (void *)5);
	unlink(pb);
	archiver_flush(ar);
	ok(wait_results(5, 10), "bad files: all results");
	g = got_token(2);
	ok(g != NULL && g->error != NULL && g->archive == NULL &&
	    strstr(g->error, "No such file") != NULL,
	    "vanished file fails alone: %s", g && g->error ? g->error : "-");
	g = got_token(4);
	ok(g != NULL && g->error != NULL && g->archive == NULL,
	    "a FIFO fails without hanging: %s", g && g->error ? g->error : "-");
	g = got_token(5);
	ok(g != NULL && g->error != NULL && g->archive == NULL,
	    "an entry name with a '..' component fails: %s", g && g->error ? g->error : "-");
	g = got_token(1);
	g3 = got_token(3);
	ok(g != NULL && g->error == NULL && g3 != NULL && g3->error == NULL &&
	    g3->archive != NULL && strcmp(g3->archive, "v-000001.tgz") == 0,
	    "the rest of the batch archived");
	ok(read_archive(apath, &rd) == 0 && rd.n == 2 &&
	    rd_find(&rd, "a.xml") && rd_find(&rd, "c.xml"),
	    "archive holds exactly a.xml and c.xml");
	ok(exists(pf), "the FIFO is not removed");
	archiver_get_stats(ar, &st);
	ok(st.files == 2 && st.errors == 3 && st.archives == 1,
	    "stats: 2 files, 3 errors");
	stop(ar);
	free(pa);
	free(pb);
	free(pc);
	free(pf);
	free(apath);
	free(src);
	free(out);
}

/* A write error (the file size limit standing in for ENOSPC). */
static void
test_write_failure(void)
{
	struct archiver		*ar;
	struct archiver_stats	 st;
	struct rlimit		 old, small;
	char			*src = newdir("w-src"), *out = newdir("w-out");
	char			*paths[3], name[16];
	size_t			 i;
	int			 kept = 0;

	got_reset();
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "w%zu.xml", i);
		paths[i] = sub(src, name);
		put_random_file(paths[i], 1 << 20, i);
	}
	if (getrlimit(RLIMIT_FSIZE, &old) != 0)
		bail("getrlimit");
	small = old;
	small.rlim_cur = 256 * 1024;
	signal(SIGXFSZ, SIG_IGN);
	ar = start(out, "w", 10, 6);
	if (setrlimit(RLIMIT_FSIZE, &small) != 0)
		bail("setrlimit");
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "w%zu.xml", i);
		archiver_add(ar, paths[i], name, (void *)(intptr_t)(i + 1));
	}
	archiver_flush(ar);
	ok(wait_results(3, 10), "write failure: all results");
	if (setrlimit(RLIMIT_FSIZE, &old) != 0)
		bail("setrlimit");
	is_int(got_errors(), 3, "every file of the batch reports the error");
	if (ngot > 0)
		diag("error: %s", got[0].error ? got[0].error : "-");
	ok(ngot > 0 && got[0].archive == NULL, "and no archive");
	for (i = 0; i < 3; i++)
		kept += exists(paths[i]);
	is_int(kept, 3, "the XML files are kept");
	is_int(count_suffix(out, ".tmp"), 0, "the temporary file is removed");
	is_int(count_suffix(out, ".tgz"), 0, "no archive under a final name");
	archiver_get_stats(ar, &st);
	ok(st.errors == 3 && st.archives == 0 && st.next_seq == 1,
	    "stats: 3 errors, no number used");

	got_reset();
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "w%zu.xml", i);
		archiver_add(ar, paths[i], name, (void *)(intptr_t)(i + 1));
	}
	archiver_flush(ar);
	ok(wait_results(3, 10) && got_errors() == 0 && got[0].archive &&
	    strcmp(got[0].archive, "w-000001.tgz") == 0,
	    "with room again the same files go into w-000001.tgz");
	stop(ar);
	for (i = 0; i < 3; i++)
		free(paths[i]);
	free(src);
	free(out);
}

/* 7: one 64 MB file; memory stays flat and the loop never waits. */
static void
test_large(void)
{
	struct archiver		*ar;
	struct archiver_stats	 st;
	struct rusage		 ru0, ru1;
	struct rd		 rd;
	char			*src = newdir("l-src"), *out = newdir("l-out");
	char			*big = sub(src, "big.xml");
	char			*small = sub(src, "small.xml");
	char			*apath = sub(out, "big-000001.tgz");
	uint64_t		 hash;
	double			 t0, t1, took;
	size_t			 size = 64 << 20;

	got_reset();
	t0 = now();
	hash = put_random_file(big, size, 42);
	put_file(small, "small", 5);
	getrusage(RUSAGE_SELF, &ru0);
	ar = start(out, "big", 1, 1);
	archiver_add(ar, big, "big.xml", (void *)1);
	t1 = now();
	archiver_add(ar, small, "small.xml", (void *)2);
	archiver_flush(ar);
	archiver_get_stats(ar, &st);
	took = now() - t1;
	ok(took < 0.05, "add, flush and stats return at once while packing "
	    "(%.1f ms)", took * 1e3);
	ok(wait_results(2, 30) && got_errors() == 0, "64 MB file archived");
	ok(read_archive(apath, &rd) == 0 && rd.n == 1, "read back: %s",
	    rd.err);
	is_int(rd.e[0].size, size, "entry size is 64 MB");
	ok(rd.e[0].hash == hash, "checksum matches");
	getrusage(RUSAGE_SELF, &ru1);
	diag("64 MB in %.2f s (write, pack, read back); peak RSS %ld -> %ld "
	    "KiB", now() - t0, ru0.ru_maxrss, ru1.ru_maxrss);
#ifdef UNDER_SANITIZER
	ok(1, "# SKIP peak RSS is not meaningful under a sanitizer");
#else
	ok(ru1.ru_maxrss - ru0.ru_maxrss < 16 * 1024,
	    "peak RSS grew by less than 16 MiB");
#endif
	stop(ar);
	free(big);
	free(small);
	free(apath);
	free(src);
	free(out);
}

/* 8: archiver_free packs what is pending. */
static void
test_free_pending(void)
{
	struct archiver	*ar;
	char		*src = newdir("f-src"), *out = newdir("f-out");
	char		*paths[5], name[16];
	size_t		 i;
	int		 good = 0, removed = 0;

	got_reset();
	ar = start(out, "f", 100, 6);
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof name, "f%zu.xml", i);
		paths[i] = sub(src, name);
		put_file(paths[i], name, strlen(name));
		archiver_add(ar, paths[i], name, (void *)(intptr_t)(i + 1));
	}
	archiver_free(ar);
	is_int(ngot, 0, "no result before the queue is drained");
	compq_drain(cq);
	is_int(ngot, 5, "five results after compq_drain");
	for (i = 0; i < ngot; i++)
		good += got[i].error == NULL && got[i].archive != NULL &&
		    strcmp(got[i].archive, "f-000001.tgz") == 0;
	for (i = 0; i < 5; i++) {
		removed += !exists(paths[i]);
		free(paths[i]);
	}
	is_int(good, 5, "all packed into f-000001.tgz at free");
	is_int(removed, 5, "and removed");
	free(src);
	free(out);
}

/* 9: gzip level 1 is bigger than the top level on compressible data. */
static void
test_gzip_level(void)
{
	struct archiver		*ar;
	struct archiver_stats	 st;
	char			*src = newdir("g-src"), *out = newdir("g-out");
	char			*path, *a1, *a9;
	long long		 s1, s9;
	int			 level;

	for (level = 1; level <= ARCHIVER_GZIP_MAX;
	    level += ARCHIVER_GZIP_MAX - 1) {
		got_reset();
		path = sub(src, "rows.xml");
		put_random_file(path, 2 << 20, 7);
		ar = start(out, level == 1 ? "l1" : "l9", 1, level);
		archiver_add(ar, path, "rows.xml", NULL);
		ok(wait_results(1, 10) && got_errors() == 0,
		    "level %d archive written", level);
		archiver_get_stats(ar, &st);
		a1 = sub(out, level == 1 ? "l1-000001.tgz" : "l9-000001.tgz");
		is_int(st.bytes, file_size(a1), "stats bytes match at level %d",
		    level);
		free(a1);
		stop(ar);
		free(path);
	}
	a1 = sub(out, "l1-000001.tgz");
	a9 = sub(out, "l9-000001.tgz");
	s1 = file_size(a1);
	s9 = file_size(a9);
	ok(s1 > s9 && s9 > 0, "level 1 (%lld bytes) > level %d (%lld bytes)",
	    s1, ARCHIVER_GZIP_MAX, s9);
	free(a1);
	free(a9);
	free(src);
	free(out);
}

/* --- 6: kill -9 at random moments --- */

#define KILL_ROUNDS	4
#define KILL_FILES	20
#define KILL_SIZE	(4 << 20)
#define KILL_SEEN	256

struct kfile {
	char		*path;
	char		 name[32];
	uint64_t	 hash;
};

/* Archives checked so far, and what they hold. */
static char		*seen_archive[KILL_SEEN];
static unsigned		 nseen_archive;
static struct {
	char		 name[32];
	int64_t		 size;
	uint64_t	 hash;
}			 seen_entry[KILL_SEEN];
static unsigned		 nseen_entry;

static void
count_done(const struct archiver_result *r, void *arg)
{
	(*(unsigned *)arg)++;
}

static void __attribute__((noreturn))
kill_child(const char *out, struct kfile *f)
{
	struct archiver_options	 o = { out, "k", 5, 1, 2 };
	struct event_base	*b;
	struct compq		*q;
	struct archiver		*ar;
	char			 err[256];
	unsigned		 done = 0;
	int			 i;

	b = event_base_new();
	q = compq_new(b);
	if ((ar = archiver_new(&o, q, count_done, &done, err,
	    sizeof err)) == NULL)
		_exit(2);
	for (i = 0; i < KILL_FILES; i++)
		archiver_add(ar, f[i].path, f[i].name, NULL);
	archiver_flush(ar);
	while (done < KILL_FILES)
		event_base_loop(b, EVLOOP_ONCE);
	archiver_free(ar);
	compq_free(q);
	event_base_free(b);
	_exit(0);
}

/* Reads every archive not checked yet; returns how many were bad. */
static int
check_new_archives(const char *out)
{
	struct rd	*rd = xmalloc(sizeof *rd);
	char		**names, *path;
	size_t		 count, i;
	unsigned	 j;
	int		 bad = 0, k;

	if (archiver_list(out, "k", &names, &count) != 0)
		bail("archiver_list");
	for (i = 0; i < count; i++) {
		for (j = 0; j < nseen_archive; j++) {
			if (strcmp(seen_archive[j], names[i]) == 0)
				break;
		}
		if (j < nseen_archive)
			continue;
		path = sub(out, names[i]);
		if (read_archive(path, rd) != 0) {
			diag("%s: %s", names[i], rd->err);
			bad++;
		}
		free(path);
		for (k = 0; k < rd->n && nseen_entry < KILL_SEEN; k++) {
			snprintf(seen_entry[nseen_entry].name,
			    sizeof seen_entry[0].name, "%s", rd->e[k].name);
			seen_entry[nseen_entry].size = rd->e[k].size;
			seen_entry[nseen_entry].hash = rd->e[k].hash;
			nseen_entry++;
		}
		if (nseen_archive < KILL_SEEN)
			seen_archive[nseen_archive++] = xstrdup(names[i]);
	}
	archiver_list_free(names, count);
	free(rd);
	return bad;
}

static int
archived_intact(const struct kfile *f)
{
	unsigned	i;

	for (i = 0; i < nseen_entry; i++) {
		if (strcmp(seen_entry[i].name, f->name) == 0 &&
		    seen_entry[i].size == KILL_SIZE &&
		    seen_entry[i].hash == f->hash)
			return 1;
	}
	return 0;
}

/* Size of the temporary file in dir, -1 if there is none. */
static long long
tmp_size(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	long long	 size = -1;
	size_t		 len;

	if ((d = opendir(dir)) == NULL)
		bail("opendir %s", dir);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0 &&
		    fstatat(dirfd(d), de->d_name, &st, 0) == 0)
			size = (long long)st.st_size;
	}
	closedir(d);
	return size;
}

enum kill_when {
	KILL_WRITING,		/* the temporary file has reached `arg` bytes */
	KILL_RENAMED,		/* `arg` archives exist: just after a rename */
	KILL_AFTER,		/* `arg` ms have passed */
};

/* Kills the child at the moment asked for; 1 if it was still running. */
static int
kill_child_when(pid_t pid, const char *out, enum kill_when when,
    long long arg)
{
	double	start = now();
	int	status, fire;

	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return 0;	/* finished first */
		switch (when) {
		case KILL_WRITING:
			fire = tmp_size(out) >= arg;
			break;
		case KILL_RENAMED:
			fire = count_suffix(out, ".tgz") >= arg;
			break;
		default:
			fire = (now() - start) * 1e3 >= (double)arg;
			break;
		}
		if (fire || now() - start > 60)
			break;
		usleep(300);
	}
	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		bail("waitpid");
	return WIFSIGNALED(status);
}

static void
test_kill(unsigned seed)
{
	static const char *const what[] = { "while writing", "after a rename",
	    "at a random time" };
	struct archiver	*ar;
	struct kfile	 f[KILL_FILES];
	enum kill_when	 when;
	char		*out = newdir("k-out"), *src, dname[32];
	int		 round, i, lost, left, both, killed = 0;
	long long	 arg;
	pid_t		 pid;

	srandom(seed);
	for (round = 0; round < KILL_ROUNDS; round++) {
		snprintf(dname, sizeof dname, "k-src%d", round);
		src = newdir(dname);
		for (i = 0; i < KILL_FILES; i++) {
			snprintf(f[i].name, sizeof f[i].name, "r%d-%02d.xml",
			    round, i);
			f[i].path = sub(src, f[i].name);
			f[i].hash = put_random_file(f[i].path, KILL_SIZE,
			    (uint64_t)round * 1000 + (uint64_t)i);
		}
		when = round < KILL_AFTER ? (enum kill_when)round : KILL_AFTER;
		if (when == KILL_WRITING)	/* an archive is about 4 MB */
			arg = random() % (3 << 20);
		else if (when == KILL_RENAMED)
			arg = count_suffix(out, ".tgz") + 1 + random() % 3;
		else
			arg = random() % 500;
		fflush(stdout);
		if ((pid = fork()) < 0)
			bail("fork");
		if (pid == 0)
			kill_child(out, f);
		killed += kill_child_when(pid, out, when, arg);

		got_reset();
		ar = start(out, "k", 5, 1);
		is_int(count_suffix(out, ".tmp"), 0,
		    "round %d (killed %s, %lld): no temporary file after the "
		    "restart", round, what[when], arg);
		is_int(check_new_archives(out), 0,
		    "round %d: every archive reads back whole", round);
		lost = left = both = 0;
		for (i = 0; i < KILL_FILES; i++) {
			if (exists(f[i].path)) {
				left++;
				both += archived_intact(&f[i]);
				archiver_add(ar, f[i].path, f[i].name, NULL);
			} else if (!archived_intact(&f[i])) {
				diag("%s is gone and not archived", f[i].name);
				lost++;
			}
		}
		is_int(lost, 0, "round %d: no file lost (%d only archived, %d "
		    "archived and still on disk, %d only on disk)", round,
		    KILL_FILES - left, both, left - both);
		archiver_flush(ar);
		ok(wait_results((unsigned)left, 30) && got_errors() == 0,
		    "round %d: the restarted archiver packs the %d left", round,
		    left);
		stop(ar);
		for (i = 0; i < KILL_FILES; i++)
			free(f[i].path);
		free(src);
	}
	is_int(check_new_archives(out), 0, "the last archives read back too");
	diag("%d of %d children killed mid-way, %u archives, %u entries",
	    killed, KILL_ROUNDS, nseen_archive, nseen_entry);
	for (i = 0; i < (int)nseen_archive; i++)
		free(seen_archive[i]);
	free(out);
}

/* Rows of XML, as compressible as the converter's; returns the checksum. */
static uint64_t
put_xml_file(const char *path, size_t rows)
{
	FILE		*f;
	char		 line[160];
	struct sum	 sum = { 0xcbf29ce484222325ULL, 0, 0 };
	size_t		 i;
	int		 n;

	if ((f = fopen(path, "w")) == NULL)
		bail("open %s", path);
	for (i = 0; i < rows; i++) {
		n = snprintf(line, sizeof line, "  <Row><Date>%04zu-%02zu-%02zu"
		    "</Date><Close>%zu.%06zu</Close><Volume>%zu</Volume></Row>\n",
		    1990 + i / 365, 1 + i / 31 % 12, 1 + i % 28, 100 + i % 97,
		    (i * 7919) % 1000000, (i * 104729) % 10000000);
		sum_add(&sum, line, (size_t)n);
		if (fwrite(line, 1, (size_t)n, f) != (size_t)n)
			bail("write %s", path);
	}
	if (fclose(f) != 0)
		bail("close %s", path);
	return sum_end(&sum);
}

#ifdef HAVE_LIBDEFLATE
/*
 * The gzip members of a file, each decompressed on its own: their count,
 * or -1 if one is not a whole gzip member; *largest, the most one holds.
 */
static long
count_members(const char *path, size_t *largest)
{
	struct libdeflate_decompressor	*d;
	unsigned char			*in, *out;
	size_t				 len, off = 0, used, outlen;
	size_t				 cap = 4 << 20;
	long				 n = 0;
	FILE				*f;

	*largest = 0;
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	in = xmalloc(64 << 20);
	len = fread(in, 1, 64 << 20, f);
	fclose(f);
	out = xmalloc(cap);
	d = libdeflate_alloc_decompressor();
	while (off < len) {
		if (libdeflate_gzip_decompress_ex(d, in + off, len - off, out,
		    cap, &used, &outlen) != LIBDEFLATE_SUCCESS) {
			n = -1;
			break;
		}
		off += used;
		if (outlen > *largest)
			*largest = outlen;
		n++;
	}
	libdeflate_free_decompressor(d);
	free(in);
	free(out);
	return n;
}
#endif

/*
 * 11: an archive of many slices, with two threads to compress them:
 * read back whole, and (with libdeflate) made of gzip members of a
 * bounded size each.
 */
static void
test_members(void)
{
	struct archiver	*ar;
	struct rd	 rd;
	char		*src = newdir("m-src"), *out = newdir("m-out");
	char		*a = sub(src, "a.xml"), *b = sub(src, "b.xml");
	char		*apath = sub(out, "m-000001.tgz");
	uint64_t	 ha, hb;
	int		 ok_a = 0, ok_b = 0, i;

	got_reset();
	ha = put_xml_file(a, 60000);		/* some 5 MB */
	hb = put_xml_file(b, 7);
	nthreads = 2;
	ar = start(out, "m", 2, 6);
	nthreads = 1;
	archiver_add(ar, a, "a.xml", (void *)1);
	archiver_add(ar, b, "b.xml", (void *)2);
	ok(wait_results(2, 30) && got_errors() == 0, "two files, one archive, "
	    "two threads");
	ok(read_archive(apath, &rd) == 0 && rd.n == 2, "read back: %s",
	    rd.err);
	for (i = 0; i < rd.n; i++) {
		ok_a |= strcmp(rd.e[i].name, "a.xml") == 0 && rd.e[i].hash == ha;
		ok_b |= strcmp(rd.e[i].name, "b.xml") == 0 && rd.e[i].hash == hb;
	}
	ok(ok_a && ok_b, "both files' bytes match");
#ifdef HAVE_LIBDEFLATE
	{
		size_t	largest;
		long	n = count_members(apath, &largest);

		ok(n >= 16 && largest <= 256 * 1024, "%ld gzip members, each "
		    "whole, the largest %zu bytes of tar", n, largest);
	}
#else
	ok(1, "# SKIP gzip members: built without libdeflate");
#endif
	stop(ar);
	free(a);
	free(b);
	free(apath);
	free(src);
	free(out);
}

/* 10: several packing threads: every file once, numbers without gaps. */
static void
test_threads(void)
{
	struct archiver	*ar;
	struct rd	 rd;
	char		*src = newdir("t-src"), *out = newdir("t-out");
	char		*path, name[32], data[64], **names;
	size_t		 count, i, entries = 0;
	int		 bad = 0;

	got_reset();
	nthreads = 3;
	ar = start(out, "t", 2, 6);
	nthreads = 1;
	for (i = 0; i < 21; i++) {
		snprintf(name, sizeof name, "f%02zu.xml", i);
		snprintf(data, sizeof data, "<Data>%zu</Data>\n", i);
		path = sub(src, name);
		put_file(path, data, strlen(data));
		archiver_add(ar, path, name, (void *)(intptr_t)(i + 1));
		free(path);
	}
	archiver_flush(ar);
	ok(wait_results(21, 10), "three threads: every file reported");
	for (i = 0; i < 21; i++) {
		struct got *g = got_token((intptr_t)(i + 1));

		bad += g == NULL || g->error != NULL || g->archive == NULL;
	}
	is_int(bad, 0, "three threads: every file archived");
	ok(archiver_list(out, "t", &names, &count) == 0 && count == 11,
	    "three threads: 11 archives (10 of 2, 1 of 1)");
	for (i = 0; i < count; i++) {
		snprintf(data, sizeof data, "t-%06zu.tgz", i + 1);
		bad += strcmp(names[i], data) != 0;
		path = sub(out, names[i]);
		if (read_archive(path, &rd) == 0)
			entries += (size_t)rd.n;
		free(path);
	}
	is_int(bad, 0, "three threads: numbers run without gaps");
	is_int(entries, 21, "three threads: 21 entries in all");
	archiver_list_free(names, count);
	stop(ar);
	free(src);
	free(out);
}

int
main(void)
{
	struct event	*tick;
	struct timeval	 tv = { 0, 20000 };
	unsigned	 seed;
	const char	*s;
	double		 t0 = now();

	loop_thread = pthread_self();
	log_set_level(LOG_LEVEL_ERROR);
	if (mkdtemp(top) == NULL)
		bail("mkdtemp");
	if ((s = getenv("TEST_ARCHIVER_SEED")) != NULL)
		seed = (unsigned)strtoul(s, NULL, 10);
	else
		seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	diag("seed %u (set TEST_ARCHIVER_SEED to repeat)", seed);

	base = event_base_new();
	cq = compq_new(base);
	/* Wakes EVLOOP_ONCE now and then, so waits can time out. */
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);

	test_options();
	test_large();		/* first: the peak RSS is still low */
	test_batches();
	test_duplicates();
	test_restart();
	test_stale();
	test_bad_files();
	test_write_failure();
	test_free_pending();
	test_gzip_level();
	test_threads();
	test_members();
	test_kill(seed);

	got_reset();
	event_free(tick);
	compq_free(cq);
	event_base_free(base);
	if (nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		diag("cannot remove %s: %s", top, strerror(errno));
	diag("%.1f s", now() - t0);
	return tap_done();
}
