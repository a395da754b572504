/*
 * test_store.c - the job store: specs, the memory backend's ids, and the
 * SQLite backend on a real file in a temporary directory: inserts with
 * items, updates, deletes, every field back after a reopen, ids never
 * reused, group commit of 1000 queued transactions, a duplicate
 * idempotency key failing alone in its group, and the files refused at
 * open (in use, garbage, a newer schema).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef HAVE_SQLITE
#include <sqlite3.h>
#endif

#include "jobs/store.h"
#include "lib/compq.h"
#include "lib/log.h"
#include "lib/mono.h"
#include "tap.h"

#define GROUP_TXNS	1000

static struct event_base	*base;
static struct compq		*cq;
static char			 top[256];
static unsigned			 order;		/* callbacks so far */

struct done {
	int		called;
	int		error;
	uint64_t	id;
	unsigned	order;
};

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

static void
done_cb(void *arg, int error, uint64_t id)
{
	struct done	*d = arg;

	d->called++;
	d->error = error;
	d->id = id;
	d->order = order++;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until *count reaches want, or 30 s have passed. */
static void
run_until(const unsigned *count, unsigned want)
{
	struct timespec	t0 = mono_now();

	while (*count < want && mono_since_s(&t0) < 30)
		event_base_loop(base, EVLOOP_ONCE);
}

/* Commits txn and waits for its callback. */
static struct done
commit_wait(struct store_txn *txn)
{
	struct done	d = { 0 };
	unsigned	want = order + 1;

	store_commit(txn, done_cb, &d);
	run_until(&order, want);
	return d;
}

static struct store_job
job_row(uint64_t id, const char *type, int state, const char *key,
    const char *spec)
{
	struct store_job	j;

	memset(&j, 0, sizeof j);
	j.id = id;
	j.type = type;
	j.state = state;
	j.created_ms = 1700000000000LL + (int64_t)id;
	j.idem_key = key;
	j.idem_request = key != NULL ? "{\"request\":1}" : NULL;
	j.spec = spec;
	return j;
}

/* --- what a load yields, as lines --- */

#define MAXROWS	64
struct loaded {
	char		row[MAXROWS][256];
	unsigned	n;
	int		stop_at;	/* row that answers -1, or -1 */
};

static int
load_job(const struct store_job *j, void *arg, char *err, size_t errlen)
{
	struct loaded	*l = arg;

	if ((int)l->n == l->stop_at) {
		snprintf(err, errlen, "stopped at job %" PRIu64, j->id);
		return -1;
	}
	if (l->n < MAXROWS)
		snprintf(l->row[l->n++], sizeof l->row[0],
		    "job %" PRIu64 " %s %d %d %" PRId64 " %" PRId64 " %" PRId64
		    " %s %s %s", j->id, j->type, j->state, j->cancel,
		    j->created_ms, j->started_ms, j->finished_ms,
		    j->idem_key != NULL ? j->idem_key : "-",
		    j->idem_request != NULL ? j->idem_request : "-", j->spec);
	return 0;
}

static int
load_item(const struct store_item *it, void *arg, char *err, size_t errlen)
{
	struct loaded	*l = arg;

	if (l->n < MAXROWS)
		snprintf(l->row[l->n++], sizeof l->row[0],
		    "item %" PRIu64 " %u %s", it->job, it->index, it->data);
	return 0;
}

static struct store *
open_store(const char *spec, char *err, size_t errlen)
{
	struct store_config	cfg = { spec, STORE_SYNC_NORMAL };

	err[0] = '\0';
	return store_open(&cfg, cq, err, errlen);
}

static void
close_store(struct store *s)
{
	store_close(s);
	compq_drain(cq);
}

/* --- specs and the memory backend --- */

static void
test_specs(void)
{
	char	err[256];

	is_int(store_spec_ok("memory", err, sizeof err), 0, "memory is a store");
#ifdef HAVE_SQLITE
	is_int(store_spec_ok("sqlite:/x", err, sizeof err), 0,
	    "sqlite:/x is a store");
#else
	err[0] = '\0';
	is_int(store_spec_ok("sqlite:/x", err, sizeof err), -1,
	    "sqlite:/x is refused without SQLite");
	ok(strstr(err, "without SQLite") != NULL, "saying why: %s", err);
#endif
	err[0] = '\0';
	is_int(store_spec_ok("mysql:x", err, sizeof err), -1,
	    "mysql:x is refused");
	ok(strstr(err, "mysql:x") != NULL, "naming it: %s", err);
	err[0] = '\0';
	is_int(store_spec_ok("sqlite:", err, sizeof err), -1,
	    "sqlite: without a path is refused");
	ok(err[0] != '\0', "with a reason: %s", err);
}

static void
test_memory(void)
{
	struct store		*s;
	struct store_txn	*txn;
	struct store_job	 j;
	struct store_item	 it = { 0, 0, "{}" };
	struct loaded		 l = { .stop_at = -1 };
	struct done		 d;
	char			 err[256];
	uint64_t		 i;

	s = open_store("memory", err, sizeof err);
	if (!ok(s != NULL, "memory store opens"))
		diag("%s", err);
	if (s == NULL)
		return;
	is_int(store_load(s, load_job, load_item, &l, err, sizeof err), 0,
	    "memory: load succeeds");
	is_int(l.n, 0, "memory: nothing loaded");
	for (i = 1; i <= 3; i++) {
		txn = store_begin(s);
		j = job_row(0, "stock", 0, NULL, "{}");
		store_put_job(txn, &j);
		store_put_item(txn, &it);
		d = commit_wait(txn);
		ok(d.called == 1 && d.error == 0 && d.id == i,
		    "memory: job %" PRIu64 " gets id %" PRIu64 " (got %d %"
		    PRIu64 ")", i, i, d.error, d.id);
	}
	close_store(s);
}

#ifdef HAVE_SQLITE

/* --- SQLite --- */

static char	dbpath[512];
static char	dbspec[600];

static void
test_sqlite_rows(void)
{
	struct store		*s, *s2;
	struct store_txn	*txn;
	struct store_job	 j;
	struct store_item	 it;
	struct loaded		 l = { .stop_at = -1 };
	struct done		 d;
	struct stat		 sb;
	char			 err[256];
	unsigned char		 hdr[20];
	int			 fd;

	snprintf(dbpath, sizeof dbpath, "%s/jobs.db", top);
	s = open_store(dbpath, err, sizeof err);
	ok(s == NULL && strstr(err, "unknown store") != NULL,
	    "a bare path is not a spec: %s", err);

	snprintf(dbspec, sizeof dbspec, "sqlite:%s", dbpath);
	s = open_store(dbspec, err, sizeof err);
	if (!ok(s != NULL, "sqlite store opens"))
		bail("store_open: %s", err);
	ok(stat(dbpath, &sb) == 0, "open creates the file");

	txn = store_begin(s);
	j = job_row(0, "stock", 1, "k1", "{\"symbols\":[\"A\",\"B\"]}");
	store_put_job(txn, &j);
	it = (struct store_item){ 0, 0, "{\"s\":\"A\"}" };
	store_put_item(txn, &it);
	it = (struct store_item){ 0, 1, "{\"s\":\"B\"}" };
	store_put_item(txn, &it);
	d = commit_wait(txn);
	ok(d.called == 1 && d.error == 0 && d.id == 1,
	    "a job with items: error 0, id 1 (got %d, %" PRIu64 ")", d.error,
	    d.id);

	txn = store_begin(s);
	j = job_row(0, "armstrong", 0, NULL, "{\"from\":1,\"to\":9}");
	store_put_job(txn, &j);
	it = (struct store_item){ 0, 0, "{\"chunk\":0}" };
	store_put_item(txn, &it);
	d = commit_wait(txn);
	ok(d.error == 0 && d.id == 2, "a second job gets id 2 (got %d, %"
	    PRIu64 ")", d.error, d.id);

	/* An update of job 1 and of one of its items. */
	txn = store_begin(s);
	j = job_row(1, "stock", 3, "k1", "{\"symbols\":[\"A\",\"B\"]}");
	j.cancel = 1;
	j.started_ms = 1700000000500LL;
	j.finished_ms = 1700000000900LL;
	store_put_job(txn, &j);
	it = (struct store_item){ 1, 1, "{\"s\":\"B\",\"done\":true}" };
	store_put_item(txn, &it);
	d = commit_wait(txn);
	ok(d.error == 0 && d.id == 0, "an update: error 0, no new id");

	/* A third job; then job 2 goes, with its item. */
	txn = store_begin(s);
	j = job_row(0, "stock", 0, NULL, "{\"symbols\":[\"C\"]}");
	store_put_job(txn, &j);
	it = (struct store_item){ 0, 0, "{\"s\":\"C\"}" };
	store_put_item(txn, &it);
	d = commit_wait(txn);
	ok(d.error == 0 && d.id == 3, "a third job gets id 3");
	txn = store_begin(s);
	store_delete_job(txn, 2);
	d = commit_wait(txn);
	is_int(d.error, 0, "a delete commits");

	/* An item of job 0 with no job inserted makes no sense. */
	txn = store_begin(s);
	it = (struct store_item){ 0, 5, "{}" };
	store_put_item(txn, &it);
	d = commit_wait(txn);
	is_int(d.error, -EINVAL, "an item of job 0 without a job: -EINVAL");

	/* Another stockcam (here: another store) on the same file. */
	s2 = open_store(dbspec, err, sizeof err);
	ok(s2 == NULL && strstr(err, "in use") != NULL,
	    "a second open of the file is refused: %s", err);
	ok(strstr(err, "pid") != NULL, "naming the pid");
	close_store(s2);
	close_store(s);

	/* WAL: bytes 18 and 19 of the header are 2. */
	if ((fd = open(dbpath, O_RDONLY)) < 0 ||
	    read(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr)
		bail("%s", dbpath);
	close(fd);
	ok(hdr[18] == 2 && hdr[19] == 2, "the database is in WAL mode");

	/* Everything back, oldest first, items after the jobs. */
	s = open_store(dbspec, err, sizeof err);
	if (!ok(s != NULL, "it opens again"))
		bail("store_open: %s", err);
	is_int(store_load(s, load_job, load_item, &l, err, sizeof err), 0,
	    "load succeeds");
	is_int(l.n, 5, "two jobs and three items");
	is_str(l.row[0], "job 1 stock 3 1 1700000000001 1700000000500 "
	    "1700000000900 k1 {\"request\":1} {\"symbols\":[\"A\",\"B\"]}",
	    "job 1, updated, every field");
	is_str(l.row[1], "job 3 stock 0 0 1700000000000 0 0 - - "
	    "{\"symbols\":[\"C\"]}", "job 3");
	is_str(l.row[2], "item 1 0 {\"s\":\"A\"}", "item 1/0");
	is_str(l.row[3], "item 1 1 {\"s\":\"B\",\"done\":true}",
	    "item 1/1, updated");
	is_str(l.row[4], "item 3 0 {\"s\":\"C\"}", "item 3/0; job 2's item "
	    "went with it");

	memset(&l, 0, sizeof l);
	l.stop_at = 1;
	err[0] = '\0';
	is_int(store_load(s, load_job, load_item, &l, err, sizeof err), -1,
	    "a callback can stop the load");
	is_str(err, "stopped at job 3", "with its own reason");

	/* Ids are never reused, also after the newest job went. */
	txn = store_begin(s);
	store_delete_job(txn, 3);
	d = commit_wait(txn);
	is_int(d.error, 0, "the newest job deleted");
	txn = store_begin(s);
	j = job_row(0, "stock", 0, NULL, "{}");
	store_put_job(txn, &j);
	d = commit_wait(txn);
	is_int(d.id, 4, "the next id is 4, not 3");
	txn = store_begin(s);
	store_delete_job(txn, 4);
	d = commit_wait(txn);
	close_store(s);
	s = open_store(dbspec, err, sizeof err);
	if (s == NULL)
		bail("store_open: %s", err);
	txn = store_begin(s);
	store_put_job(txn, &j);
	d = commit_wait(txn);
	is_int(d.id, 5, "after a reopen too: 5");
	close_store(s);
}

static void
test_group_commit(void)
{
	static struct done	 d[GROUP_TXNS];
	struct store		*s;
	struct store_txn	*txn;
	struct store_job	 j;
	struct store_item	 it;
	struct store_stats	 st0, st;
	struct timespec		 t0;
	char			 err[256], data[64];
	unsigned		 i, inorder = 1, okay = 1, want;
	double			 ms;

	if ((s = open_store(dbspec, err, sizeof err)) == NULL)
		bail("store_open: %s", err);
	store_get_stats(s, &st0);
	memset(d, 0, sizeof d);
	t0 = mono_now();
	want = order + GROUP_TXNS;
	for (i = 0; i < GROUP_TXNS; i++) {
		txn = store_begin(s);
		j = job_row(0, "stock", 0, NULL, "{\"symbols\":[\"X\"]}");
		store_put_job(txn, &j);
		snprintf(data, sizeof data, "{\"n\":%u}", i);
		it = (struct store_item){ 0, 0, data };
		store_put_item(txn, &it);
		store_commit(txn, done_cb, &d[i]);
	}
	run_until(&order, want);
	ms = (double)mono_since_ns(&t0) / 1e6;
	for (i = 0; i < GROUP_TXNS; i++) {
		if (d[i].called != 1 || d[i].error != 0)
			okay = 0;
		if (i > 0 && (d[i].order != d[i - 1].order + 1 ||
		    d[i].id != d[i - 1].id + 1))
			inorder = 0;
	}
	ok(okay, "all %d done callbacks arrived, each once, error 0",
	    GROUP_TXNS);
	ok(inorder, "in the order queued, with ids in that order");
	store_get_stats(s, &st);
	diag("%d transactions in %" PRIu64 " commits, %.1f ms", GROUP_TXNS,
	    st.commits - st0.commits, ms);
	ok(st.commits - st0.commits < GROUP_TXNS / 10,
	    "group commit: far fewer commits than transactions");
	is_int(st.txns - st0.txns, GROUP_TXNS, "stats count the transactions");
	is_int(st.queued, 0, "nothing queued");
	close_store(s);
}

static void
test_idempotency(void)
{
	struct store		*s;
	struct store_txn	*txn;
	struct store_job	 j;
	struct store_item	 it;
	struct store_stats	 st0, st;
	struct done		 big = { 0 }, a = { 0 }, b = { 0 }, c = { 0 };
	char			 err[256];
	unsigned		 i, want;

	if ((s = open_store(dbspec, err, sizeof err)) == NULL)
		bail("store_open: %s", err);
	store_get_stats(s, &st0);
	want = order + 4;
	/* A big one first keeps the thread busy while a, b and c queue up. */
	txn = store_begin(s);
	j = job_row(0, "stock", 0, NULL, "{}");
	store_put_job(txn, &j);
	for (i = 0; i < 20000; i++) {
		it = (struct store_item){ 0, i, "{\"filler\":true}" };
		store_put_item(txn, &it);
	}
	store_commit(txn, done_cb, &big);

	txn = store_begin(s);
	j = job_row(0, "stock", 0, "fresh-a", "{}");
	store_put_job(txn, &j);
	store_commit(txn, done_cb, &a);
	txn = store_begin(s);
	j = job_row(0, "stock", 0, "k1", "{}");	/* job 1 has it */
	store_put_job(txn, &j);
	it = (struct store_item){ 0, 0, "{}" };
	store_put_item(txn, &it);
	store_commit(txn, done_cb, &b);
	txn = store_begin(s);
	j = job_row(0, "stock", 0, "fresh-c", "{}");
	store_put_job(txn, &j);
	store_commit(txn, done_cb, &c);
	run_until(&order, want);

	is_int(big.error, 0, "the big transaction commits");
	ok(a.error == 0 && a.id != 0, "the one before the duplicate commits");
	is_int(b.error, -EEXIST, "the duplicate key fails with -EEXIST");
	is_int(b.id, 0, "and has no id");
	ok(c.error == 0 && c.id == a.id + 1,
	    "the one after it commits, with the next id");
	store_get_stats(s, &st);
	is_int(st.failures - st0.failures, 1, "stats count one failure");
	close_store(s);
}

static void
test_refused(void)
{
	struct store	*s;
	sqlite3		*db;
	char		 path[512], spec[600], err[256], junk[8192];
	unsigned	 i;
	int		 fd;

	snprintf(path, sizeof path, "%s/garbage.db", top);
	for (i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 7 + 3);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    write(fd, junk, sizeof junk) != (ssize_t)sizeof junk)
		bail("%s", path);
	close(fd);
	snprintf(spec, sizeof spec, "sqlite:%s", path);
	s = open_store(spec, err, sizeof err);
	ok(s == NULL && strstr(err, "not a stockcam database") != NULL,
	    "a file of garbage is refused: %s", err);
	close_store(s);

	snprintf(path, sizeof path, "%s/v99.db", top);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL,
	    NULL) != SQLITE_OK)
		bail("%s: %s", path, sqlite3_errmsg(db));
	sqlite3_close(db);
	snprintf(spec, sizeof spec, "sqlite:%s", path);
	s = open_store(spec, err, sizeof err);
	ok(s == NULL && strstr(err, "schema version 99") != NULL &&
	    strstr(err, "newer stockcam") != NULL,
	    "a newer schema is refused: %s", err);
	close_store(s);

	snprintf(path, sizeof path, "%s/other.db", top);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL) !=
	    SQLITE_OK)
		bail("%s: %s", path, sqlite3_errmsg(db));
	sqlite3_close(db);
	snprintf(spec, sizeof spec, "sqlite:%s", path);
	s = open_store(spec, err, sizeof err);
	ok(s == NULL && strstr(err, "something else") != NULL,
	    "another program's database is refused: %s", err);
	close_store(s);

	snprintf(spec, sizeof spec, "sqlite:%s/no/such/dir/x.db", top);
	s = open_store(spec, err, sizeof err);
	ok(s == NULL && strstr(err, "No such file") != NULL,
	    "a path in a missing directory is refused: %s", err);
	close_store(s);
}

/* --- versions, updates that keep the spec, and migrations --- */

struct versions {
	uint64_t	version[8];
	char		spec[8][64];
	int		state[8];
	unsigned	n;
};

static int
load_version(const struct store_job *j, void *arg, char *err, size_t errlen)
{
	struct versions	*v = arg;

	if (v->n < 8) {
		v->version[v->n] = j->version;
		v->state[v->n] = j->state;
		snprintf(v->spec[v->n], sizeof v->spec[0], "%s", j->spec);
		v->n++;
	}
	return 0;
}

static int
load_no_item(const struct store_item *it, void *arg, char *err,
    size_t errlen)
{
	return 0;
}

static void
test_versions(void)
{
	struct store		*s;
	struct store_txn	*txn;
	struct store_job	 j;
	struct versions		 v = { .n = 0 };
	struct done		 d;
	char			 path[512], spec[600], err[256];
	sqlite3			*db;

	snprintf(path, sizeof path, "%s/versions.db", top);
	snprintf(spec, sizeof spec, "sqlite:%s", path);
	if ((s = open_store(spec, err, sizeof err)) == NULL)
		bail("store_open: %s", err);
	txn = store_begin(s);
	j = job_row(0, "stock", 0, NULL, "{\"symbols\":[\"V\"]}");
	j.version = 3;
	store_put_job(txn, &j);
	d = commit_wait(txn);
	txn = store_begin(s);
	j = job_row(d.id, "stock", 2, NULL, NULL);	/* spec kept */
	j.version = 9;
	store_put_job(txn, &j);
	d = commit_wait(txn);
	ok(d.error == 0, "an update without a spec commits");
	close_store(s);
	if ((s = open_store(spec, err, sizeof err)) == NULL)
		bail("store_open: %s", err);
	store_load(s, load_version, load_no_item, &v, err, sizeof err);
	close_store(s);
	ok(v.n == 1 && v.version[0] == 9 && v.state[0] == 2 &&
	    strcmp(v.spec[0], "{\"symbols\":[\"V\"]}") == 0,
	    "the version and state are written, the spec is kept");

	/* A database of schema version 1 moves to the current one. */
	snprintf(path, sizeof path, "%s/v1.db", top);
	snprintf(spec, sizeof spec, "sqlite:%s", path);
	if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db,
	    "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " type TEXT NOT NULL, state INTEGER NOT NULL,"
	    " cancel INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,"
	    " started_ms INTEGER NOT NULL DEFAULT 0,"
	    " finished_ms INTEGER NOT NULL DEFAULT 0, idem_key TEXT UNIQUE,"
	    " idem_request TEXT, spec TEXT NOT NULL);"
	    "CREATE TABLE items (job INTEGER NOT NULL REFERENCES jobs(id)"
	    " ON DELETE CASCADE, idx INTEGER NOT NULL, data TEXT NOT NULL,"
	    " PRIMARY KEY (job, idx)) WITHOUT ROWID;"
	    "INSERT INTO jobs (type, state, created_ms, spec)"
	    " VALUES ('stock', 2, 1, '{\"old\":1}');"
	    "PRAGMA user_version = 1;", NULL, NULL, NULL) != SQLITE_OK)
		bail("making a version 1 database");
	sqlite3_close(db);
	v.n = 0;
	s = open_store(spec, err, sizeof err);
	ok(s != NULL, "a version 1 database opens (migrated): %s", err);
	if (s != NULL) {
		store_load(s, load_version, load_no_item, &v, err,
		    sizeof err);
		close_store(s);
	}
	ok(v.n == 1 && v.version[0] == 1 &&
	    strcmp(v.spec[0], "{\"old\":1}") == 0,
	    "its job is there, at version 1");
}
#endif /* HAVE_SQLITE */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int
main(void)
{
	struct event		*tick;
	struct timeval		 tv = { 0, 100000 };
	const char		*tmp;

	log_set_level(LOG_LEVEL_ERROR);
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(top, sizeof top, "%s/test_store.XXXXXX", tmp);
	if (mkdtemp(top) == NULL)
		bail("mkdtemp %s", top);

	base = event_base_new();
	cq = compq_new(base);
	/* Wakes EVLOOP_ONCE now and then, so waits can time out. */
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);

	test_specs();
	test_memory();
#ifdef HAVE_SQLITE
	test_sqlite_rows();
	test_group_commit();
	test_idempotency();
	test_refused();
	test_versions();
#endif

	event_free(tick);
	compq_free(cq);
	event_base_free(base);
	if (nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		diag("cannot remove %s: %s", top, strerror(errno));
	return tap_done();
}
