/*
 * test_tgzdir.c - reading the archive directory: names, listing with
 * sizes and entry counts, one entry with its limit, opening for sending.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "stock/archiver.h"
#include "stock/tgzdir.h"
#include "tap.h"

static void
bail(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(1);
}

/* A .tgz at path holding the entries named in `names` (content: name). */
static void
make_tgz(const char *path, const char *const *names)
{
	struct archive		*a = archive_write_new();
	struct archive_entry	*e = archive_entry_new();
	size_t			 len;

	if (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_filename(a, path) != ARCHIVE_OK)
		bail("archive_write_open_filename");
	for (; *names != NULL; names++) {
		len = strlen(*names);
		archive_entry_clear(e);
		archive_entry_set_pathname(e, *names);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)len);
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    archive_write_data(a, *names, len) != (la_ssize_t)len)
			bail("archive_write");
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		bail("archive_write_close");
	archive_entry_free(e);
	archive_write_free(a);
}

static void
test_names(void)
{
	ok(tgzdir_name_ok(ARCHIVER_PREFIX "-000001.tgz"), "a final name");
	ok(tgzdir_name_ok(ARCHIVER_PREFIX "-1.tgz"), "one digit is enough");
	ok(!tgzdir_name_ok(ARCHIVER_PREFIX "-.tgz"), "no digits: refused");
	ok(!tgzdir_name_ok("." ARCHIVER_PREFIX "-000001.tgz.tmp"),
	    "a temporary file: refused");
	ok(!tgzdir_name_ok("other-000001.tgz"), "another prefix: refused");
	ok(!tgzdir_name_ok(ARCHIVER_PREFIX "-000001.tgz/x"),
	    "a path: refused");
	ok(!tgzdir_name_ok("../" ARCHIVER_PREFIX "-000001.tgz"),
	    "a dot-dot path: refused");
}

static void
test_dir(const char *dir)
{
	static const char *const two[] = { "1/A.xml", "1/BB.xml", NULL };
	static const char *const one[] = { "2/C.xml", NULL };
	struct tgzdir		*td;
	struct tgzdir_item	*items;
	struct stat		 st;
	char			 path[4096], err[256], *data;
	size_t			 count, len;
	off_t			 size;
	int			 fd;

	snprintf(path, sizeof path, "%s/%s-000002.tgz", dir, ARCHIVER_PREFIX);
	make_tgz(path, one);
	snprintf(path, sizeof path, "%s/%s-000001.tgz", dir, ARCHIVER_PREFIX);
	make_tgz(path, two);
	if (stat(path, &st) != 0)
		bail("stat");
	snprintf(path, sizeof path, "%s/notes.txt", dir);
	make_tgz(path, one);

	td = tgzdir_new(dir);
	is_int(tgzdir_list(td, &items, &count), 0, "list: 0");
	is_int(count, 2, "list: the two archives, not the stranger");
	if (count == 2) {
		is_str(items[0].name, ARCHIVER_PREFIX "-000001.tgz",
		    "list: in sequence order");
		is_int(items[0].entries, 2, "list: entries of the first");
		is_int(items[0].bytes, st.st_size, "list: bytes of the first");
		is_int(items[1].entries, 1, "list: entries of the second");
	}
	tgzdir_list_free(items, count);
	/* Counts are cached: a second listing says the same. */
	is_int(tgzdir_list(td, &items, &count), 0, "list again: 0");
	ok(count == 2 && items[0].entries == 2 && items[1].entries == 1,
	    "list again: the same counts");
	tgzdir_list_free(items, count);

	is_int(tgzdir_read(td, ARCHIVER_PREFIX "-000001.tgz", "1/BB.xml",
	    1024, &data, &len, err, sizeof err), 0, "read: 0");
	ok(data != NULL && len == 8 && memcmp(data, "1/BB.xml", 8) == 0,
	    "read: the entry's bytes");
	free(data);
	is_int(tgzdir_read(td, ARCHIVER_PREFIX "-000001.tgz", "1/BB.xml",
	    7, &data, &len, err, sizeof err), -EFBIG, "read: over max");
	ok(data == NULL && len == 0, "read over max: nothing returned");
	is_int(tgzdir_read(td, ARCHIVER_PREFIX "-000001.tgz", "1/Z.xml",
	    1024, &data, &len, err, sizeof err), -ENOENT, "read: no entry");
	is_str(err, "entry missing", "read: no entry says so");
	is_int(tgzdir_read(td, ARCHIVER_PREFIX "-000009.tgz", "1/A.xml",
	    1024, &data, &len, err, sizeof err), -EIO, "read: no archive");
	ok(err[0] != '\0', "read: no archive has a reason (%s)", err);

	is_int(tgzdir_open(td, ARCHIVER_PREFIX "-000001.tgz", &fd, &size), 0,
	    "open: 0");
	ok(fd >= 0 && size == st.st_size, "open: fd and size");
	if (fd >= 0)
		close(fd);
	is_int(tgzdir_open(td, "notes.txt", &fd, &size), -ENOENT,
	    "open: a name that is not an archive's");
	ok(fd == -1, "open refused: no fd");
	is_int(tgzdir_open(td, ARCHIVER_PREFIX "-000009.tgz", &fd, &size),
	    -ENOENT, "open: a missing archive");
	tgzdir_free(td);

	td = tgzdir_new("/nonexistent/stockcam-test");
	is_int(tgzdir_list(td, &items, &count), -ENOENT,
	    "list: a missing directory is -ENOENT");
	tgzdir_free(td);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int
main(void)
{
	char	top[] = "/tmp/test_tgzdir.XXXXXX";

	if (mkdtemp(top) == NULL)
		bail("mkdtemp");
	test_names();
	test_dir(top);
	if (nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		diag("cannot remove %s", top);
	return tap_done();
}
