/*
 * store_sqlite.c - the store in a file of SQLite.
 *
 * WAL mode, so a commit is one append to the log and the loop's readers
 * (none yet) never block the writer; synchronous NORMAL survives the
 * death of the process, FULL also a power loss. The schema carries its
 * version in PRAGMA user_version and is moved forward at open, in one
 * transaction, by the migrations below; a database newer than this
 * build is refused, as are a file that is no database or is damaged,
 * and a database another running stockcam holds: an flock(2) on a file
 * descriptor of our own, which SQLite's fcntl locks do not see.
 */
#include "config.h"

#ifdef HAVE_SQLITE

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "jobs/store.h"
#include "jobs/store_int.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

/* How long a statement waits for a lock someone else holds. */
#define LITE_BUSY_MS	200

/* Migration i takes the schema from version i to version i + 1. */
static const char *const lite_migrations[] = {
	/* 1: the first schema. */
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  type TEXT NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  cancel INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL,"
	"  started_ms INTEGER NOT NULL DEFAULT 0,"
	"  finished_ms INTEGER NOT NULL DEFAULT 0,"
	"  idem_key TEXT UNIQUE,"
	"  idem_request TEXT,"
	"  spec TEXT NOT NULL);"
	"CREATE TABLE items ("
	"  job INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"
	"  data TEXT NOT NULL,"
	"  PRIMARY KEY (job, idx)) WITHOUT ROWID;",
	/* 2: the job's version, so a restart never shows an older one. */
	"ALTER TABLE jobs ADD COLUMN version INTEGER NOT NULL DEFAULT 1;",
};
#define LITE_VERSION \
	((int)(sizeof lite_migrations / sizeof lite_migrations[0]))

enum lite_stmt {
	LITE_BEGIN,
	LITE_COMMIT,
	LITE_ROLLBACK,
	LITE_INSERT_JOB,
	LITE_PUT_JOB,
	LITE_UPDATE_JOB,
	LITE_PUT_ITEM,
	LITE_DELETE_JOB,
	LITE_LOAD_JOBS,
	LITE_LOAD_ITEMS,
	LITE_NSTMT
};

#define LITE_JOB_COLUMNS \
	"type, state, cancel, created_ms, started_ms, finished_ms, " \
	"idem_key, idem_request, spec, version"

static const char *const lite_sql[LITE_NSTMT] = {
	[LITE_BEGIN] = "BEGIN IMMEDIATE",
	[LITE_COMMIT] = "COMMIT",
	[LITE_ROLLBACK] = "ROLLBACK",
	[LITE_INSERT_JOB] = "INSERT INTO jobs (" LITE_JOB_COLUMNS ") "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[LITE_PUT_JOB] = "INSERT INTO jobs (id, " LITE_JOB_COLUMNS ") "
	    "VALUES (?11, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
	    "ON CONFLICT (id) DO UPDATE SET type = excluded.type, "
	    "state = excluded.state, cancel = excluded.cancel, "
	    "created_ms = excluded.created_ms, "
	    "started_ms = excluded.started_ms, "
	    "finished_ms = excluded.finished_ms, "
	    "idem_key = excluded.idem_key, "
	    "idem_request = excluded.idem_request, spec = excluded.spec, "
	    "version = excluded.version",
	[LITE_UPDATE_JOB] = "UPDATE jobs SET state = ?2, cancel = ?3, "
	    "created_ms = ?4, started_ms = ?5, finished_ms = ?6, "
	    "idem_key = ?7, idem_request = ?8, version = ?10 WHERE id = ?11",
	[LITE_PUT_ITEM] = "INSERT INTO items (job, idx, data) "
	    "VALUES (?1, ?2, ?3) "
	    "ON CONFLICT (job, idx) DO UPDATE SET data = excluded.data",
	[LITE_DELETE_JOB] = "DELETE FROM jobs WHERE id = ?1",
	[LITE_LOAD_JOBS] = "SELECT id, " LITE_JOB_COLUMNS " FROM jobs "
	    "ORDER BY id",
	[LITE_LOAD_ITEMS] = "SELECT job, idx, data FROM items "
	    "ORDER BY job, idx",
};

struct lite {
	char		*path;
	int		 lockfd;
	sqlite3		*db;
	sqlite3_stmt	*st[LITE_NSTMT];
};

/* A negative errno for an SQLite result code. */
static int
lite_errno(int rc)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	}
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_IOERR:
		return -EIO;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EINVAL;	/* an item of a job that is not there */
	default:
		return -EIO;
	}
}

/* Runs a statement that yields no rows: SQLITE_DONE or the error. */
static int
lite_run(sqlite3_stmt *st)
{
	int	rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

/* The pid holding an flock on the file fd is open on, from /proc/locks. */
static long
lite_lock_holder(int fd)
{
	struct stat	 sb;
	FILE		*f;
	char		 line[256], kind[16];
	unsigned	 maj, min;
	unsigned long	 ino;
	long		 pid, found = 0;

	if (fstat(fd, &sb) != 0 || (f = fopen("/proc/locks", "re")) == NULL)
		return 0;
	while (found == 0 && fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", kind, &pid,
		    &maj, &min, &ino) != 5 || strcmp(kind, "FLOCK") != 0)
			continue;
		if (maj == major(sb.st_dev) && min == minor(sb.st_dev) &&
		    ino == (unsigned long)sb.st_ino && pid > 0)
			found = pid;
	}
	fclose(f);
	return found;
}

/* Takes the file for this process alone: 0, or -1 and err. */
static int
lite_lock(struct lite *l, char *err, size_t errlen)
{
	long	pid;

	l->lockfd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (l->lockfd < 0) {
		snprintf(err, errlen, "%s: %s", l->path, strerror(errno));
		return -1;
	}
	if (flock(l->lockfd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK) {
		snprintf(err, errlen, "%s: flock: %s", l->path,
		    strerror(errno));
		return -1;
	}
	if ((pid = lite_lock_holder(l->lockfd)) > 0)
		snprintf(err, errlen, "%s is in use by another stockcam "
		    "(pid %ld)", l->path, pid);
	else
		snprintf(err, errlen, "%s is in use by another stockcam",
		    l->path);
	return -1;
}

/* One statement of one row and one text column: SQLITE_ROW with it. */
static int
lite_pragma_text(struct lite *l, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt		*st;
	const unsigned char	*text;
	int			 rc;

	if ((rc = sqlite3_prepare_v2(l->db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		text = sqlite3_column_text(st, 0);
		snprintf(out, outlen, "%s", text != NULL ? (const char *)text :
		    "");
	}
	sqlite3_finalize(st);
	return rc;
}

/* The same, for an integer. */
static int
lite_pragma_int(struct lite *l, const char *sql, int *out)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((rc = sqlite3_prepare_v2(l->db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc;
}

/* The file is a sound SQLite database (or empty): 0, or -1 and err. */
static int
lite_check(struct lite *l, char *err, size_t errlen)
{
	char	result[128];
	int	rc;

	rc = lite_pragma_text(l, "PRAGMA quick_check", result, sizeof result);
	if (rc != SQLITE_ROW) {
		snprintf(err, errlen, "%s is not a stockcam database or is "
		    "damaged: %s", l->path, sqlite3_errmsg(l->db));
		return -1;
	}
	if (strcmp(result, "ok") != 0) {
		snprintf(err, errlen, "%s is damaged (quick_check: %s)",
		    l->path, result);
		return -1;
	}
	return 0;
}

/* Sets the connection up as the header says: 0, or -1 and err. */
static int
lite_configure(struct lite *l, enum store_sync sync, char *err,
    size_t errlen)
{
	char	mode[32];
	int	rc;

	rc = lite_pragma_text(l, "PRAGMA journal_mode = WAL", mode,
	    sizeof mode);
	if (rc != SQLITE_ROW || strcmp(mode, "wal") != 0) {
		snprintf(err, errlen, "%s: cannot use WAL mode: %s", l->path,
		    rc != SQLITE_ROW ? sqlite3_errmsg(l->db) : mode);
		return -1;
	}
	rc = sqlite3_exec(l->db, sync == STORE_SYNC_FULL ?
	    "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON" :
	    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
	    NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", l->path,
		    sqlite3_errmsg(l->db));
		return -1;
	}
	return 0;
}

/* Brings the schema to LITE_VERSION: 0, or -1 and err. */
static int
lite_migrate(struct lite *l, char *err, size_t errlen)
{
	char	sql[64];
	int	version = 0, tables = 0, v;

	if (lite_pragma_int(l, "PRAGMA user_version", &version) !=
	    SQLITE_ROW || lite_pragma_int(l, "SELECT count(*) FROM "
	    "sqlite_master", &tables) != SQLITE_ROW) {
		snprintf(err, errlen, "%s: %s", l->path,
		    sqlite3_errmsg(l->db));
		return -1;
	}
	if (version > LITE_VERSION) {
		snprintf(err, errlen, "%s: the database has schema version "
		    "%d; this stockcam knows up to %d: use a newer stockcam",
		    l->path, version, LITE_VERSION);
		return -1;
	}
	if (version == LITE_VERSION)
		return 0;
	if (version == 0 && tables != 0) {
		snprintf(err, errlen, "%s is an SQLite database of something "
		    "else (it has tables but no stockcam schema)", l->path);
		return -1;
	}

	if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto fail;
	for (v = version; v < LITE_VERSION; v++) {
		if (sqlite3_exec(l->db, lite_migrations[v], NULL, NULL,
		    NULL) != SQLITE_OK)
			goto fail;
	}
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", LITE_VERSION);
	if (sqlite3_exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	log_info("store: %s: schema version %d to %d", l->path, version,
	    LITE_VERSION);
	return 0;

fail:
	snprintf(err, errlen, "%s: moving the schema from version %d to %d: "
	    "%s", l->path, version, LITE_VERSION, sqlite3_errmsg(l->db));
	if (!sqlite3_get_autocommit(l->db))
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static void
lite_close(void *h)
{
	struct lite	*l = h;
	int		 i;

	if (l == NULL)
		return;
	for (i = 0; i < LITE_NSTMT; i++)
		sqlite3_finalize(l->st[i]);
	if (l->db != NULL && sqlite3_close(l->db) != SQLITE_OK)
		log_warn("store: %s: close: %s", l->path,
		    sqlite3_errmsg(l->db));
	if (l->lockfd >= 0)
		close(l->lockfd);	/* and the flock with it */
	free(l->path);
	free(l);
}

static void *
lite_open(const char *path, enum store_sync sync, char *err, size_t errlen)
{
	struct lite	*l;
	int		 flags, i, rc;

	l = xcalloc(1, sizeof *l);
	l->path = xstrdup(path);
	l->lockfd = -1;
	if (lite_lock(l, err, errlen) != 0)
		goto fail;

	flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_FULLMUTEX;
	if ((rc = sqlite3_open_v2(path, &l->db, flags, NULL)) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, l->db != NULL ?
		    sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(l->db, 1);
	sqlite3_busy_timeout(l->db, LITE_BUSY_MS);
	if (lite_check(l, err, errlen) != 0 ||
	    lite_configure(l, sync, err, errlen) != 0 ||
	    lite_migrate(l, err, errlen) != 0)
		goto fail;

	for (i = 0; i < LITE_NSTMT; i++) {
		if (sqlite3_prepare_v3(l->db, lite_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &l->st[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", path,
			    sqlite3_errmsg(l->db));
			goto fail;
		}
	}
	return l;

fail:
	lite_close(l);
	return NULL;
}

static const char *
lite_column_text(sqlite3_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

static int
lite_load(void *h, store_job_fn *job_fn, store_item_fn *item_fn, void *arg,
    char *err, size_t errlen)
{
	struct lite		*l = h;
	struct store_job	 job;
	struct store_item	 item;
	sqlite3_stmt		*st;
	int			 rc, stopped = 0;

	st = l->st[LITE_LOAD_JOBS];
	while (!stopped && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		job.id = (uint64_t)sqlite3_column_int64(st, 0);
		job.type = lite_column_text(st, 1);
		job.state = sqlite3_column_int(st, 2);
		job.cancel = sqlite3_column_int(st, 3);
		job.created_ms = sqlite3_column_int64(st, 4);
		job.started_ms = sqlite3_column_int64(st, 5);
		job.finished_ms = sqlite3_column_int64(st, 6);
		job.idem_key = lite_column_text(st, 7);
		job.idem_request = lite_column_text(st, 8);
		job.spec = lite_column_text(st, 9);
		job.version = (uint64_t)sqlite3_column_int64(st, 10);
		if (job.type == NULL || job.spec == NULL) {
			rc = SQLITE_NOMEM;	/* NOT NULL columns */
			break;
		}
		stopped = job_fn(&job, arg, err, errlen) != 0;
	}
	sqlite3_reset(st);
	if (stopped)
		return -1;
	if (rc != SQLITE_DONE)
		goto fail;

	st = l->st[LITE_LOAD_ITEMS];
	while (!stopped && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		item.job = (uint64_t)sqlite3_column_int64(st, 0);
		item.index = (uint32_t)sqlite3_column_int64(st, 1);
		item.data = lite_column_text(st, 2);
		if (item.data == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		stopped = item_fn(&item, arg, err, errlen) != 0;
	}
	sqlite3_reset(st);
	if (stopped)
		return -1;
	if (rc != SQLITE_DONE)
		goto fail;
	return 0;

fail:
	if (rc == SQLITE_NOMEM)
		fatalx("store: %s: out of memory loading", l->path);
	snprintf(err, errlen, "%s: loading: %s", l->path,
	    sqlite3_errstr(rc));
	return -1;
}

/* Binds a job's columns ?1 to ?10. */
static void
lite_bind_job(sqlite3_stmt *st, const struct store_job *job)
{
	sqlite3_bind_text(st, 1, job->type, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, job->state);
	sqlite3_bind_int(st, 3, job->cancel);
	sqlite3_bind_int64(st, 4, job->created_ms);
	sqlite3_bind_int64(st, 5, job->started_ms);
	sqlite3_bind_int64(st, 6, job->finished_ms);
	sqlite3_bind_text(st, 7, job->idem_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, job->idem_request, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, job->spec, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)job->version);
}

/* One transaction's changes, inside the open database transaction. */
static int
lite_apply(struct lite *l, struct store_txn *txn)
{
	struct store_op	*op;
	sqlite3_stmt	*st;
	uint64_t	 job;
	int		 rc;

	txn->id = 0;
	STAILQ_FOREACH(op, &txn->ops, entry) {
		switch (op->kind) {
		case STORE_OP_PUT_JOB:
			st = l->st[op->job.id == 0 ? LITE_INSERT_JOB :
			    op->job.spec == NULL ? LITE_UPDATE_JOB :
			    LITE_PUT_JOB];
			lite_bind_job(st, &op->job);
			if (op->job.id != 0)
				sqlite3_bind_int64(st, 11,
				    (sqlite3_int64)op->job.id);
			if ((rc = lite_run(st)) != SQLITE_DONE)
				return rc;
			if (op->job.id == 0)
				txn->id = (uint64_t)
				    sqlite3_last_insert_rowid(l->db);
			break;
		case STORE_OP_PUT_ITEM:
			if ((job = op->item.job) == 0 &&
			    (job = txn->id) == 0)
				return SQLITE_MISUSE;
			st = l->st[LITE_PUT_ITEM];
			sqlite3_bind_int64(st, 1, (sqlite3_int64)job);
			sqlite3_bind_int64(st, 2, op->item.index);
			sqlite3_bind_text(st, 3, op->item.data, -1,
			    SQLITE_STATIC);
			if ((rc = lite_run(st)) != SQLITE_DONE)
				return rc;
			break;
		case STORE_OP_DELETE_JOB:
			st = l->st[LITE_DELETE_JOB];
			sqlite3_bind_int64(st, 1, (sqlite3_int64)op->id);
			if ((rc = lite_run(st)) != SQLITE_DONE)
				return rc;
			break;
		}
	}
	return SQLITE_DONE;
}

static int
lite_commit(void *h, struct store_txn **txns, size_t n)
{
	struct lite	*l = h;
	size_t		 i;
	int		 rc;

	if ((rc = lite_run(l->st[LITE_BEGIN])) != SQLITE_DONE)
		goto fail;
	for (i = 0; i < n; i++) {
		if ((rc = lite_apply(l, txns[i])) != SQLITE_DONE)
			goto fail;
	}
	if ((rc = lite_run(l->st[LITE_COMMIT])) != SQLITE_DONE)
		goto fail;
	return 0;

fail:
	if (rc == SQLITE_MISUSE)
		log_debug("store: %s: an item of job 0 and no job inserted",
		    l->path);
	else
		log_debug("store: %s: commit of %zu: %s", l->path, n,
		    sqlite3_errmsg(l->db));
	if (!sqlite3_get_autocommit(l->db))
		lite_run(l->st[LITE_ROLLBACK]);
	for (i = 0; i < n; i++)
		txns[i]->id = 0;
	return rc == SQLITE_MISUSE ? -EINVAL : lite_errno(rc);
}

const struct store_backend store_sqlite_backend = {
	.name = "sqlite",
	.open = lite_open,
	.load = lite_load,
	.commit = lite_commit,
	.close = lite_close,
};

#endif /* HAVE_SQLITE */
