/*
 * store_pg.c - the store in a PostgreSQL database (--store
 * postgresql://..., any libpq connection URI).
 *
 * libpq blocks, so it runs on the store's own thread, never the loop's.
 * A group commit is one round trip: its statements go as one simple
 * query, which PostgreSQL runs as one transaction (all or none), with
 * the values quoted by PQescapeLiteral. A new job's id comes from its
 * INSERT ... RETURNING; its items name it with currval().
 *
 * The schema carries its version in stockcam_schema and is moved
 * forward at open, in one transaction, by the migrations below; a
 * database newer than this build is refused, as is one that has a jobs
 * table but no stockcam schema.
 *
 * One instance a database, for now: the connection holds a session
 * advisory lock, and a second stockcam on the same database is refused
 * at start, as with SQLite. (Several instances sharing the jobs need
 * claims on the work, which this store does not make yet.)
 *
 * A lost connection is made again at the next commit; the commit that
 * saw it fails with -EIO.
 */
#include "config.h"

#ifdef HAVE_POSTGRESQL

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "jobs/store.h"
#include "jobs/store_int.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

/* pg_try_advisory_lock's key: "stkc". */
#define PG_LOCK_KEY	"1937009507"

/* Migration i takes the schema from version i to version i + 1. */
static const char *const pg_migrations[] = {
	/* 1: the first schema, as SQLite's version 2. */
	"CREATE TABLE stockcam_schema (version integer NOT NULL);"
	"INSERT INTO stockcam_schema VALUES (0);"
	"CREATE TABLE jobs ("
	"  id bigserial PRIMARY KEY,"
	"  type text NOT NULL,"
	"  state integer NOT NULL,"
	"  cancel integer NOT NULL DEFAULT 0,"
	"  created_ms bigint NOT NULL,"
	"  started_ms bigint NOT NULL DEFAULT 0,"
	"  finished_ms bigint NOT NULL DEFAULT 0,"
	"  idem_key text UNIQUE,"
	"  idem_request text,"
	"  spec text NOT NULL,"
	"  version bigint NOT NULL DEFAULT 1);"
	"CREATE TABLE items ("
	"  job bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  idx integer NOT NULL,"
	"  data text NOT NULL,"
	"  PRIMARY KEY (job, idx));",
};
#define PG_VERSION	((int)(sizeof pg_migrations / sizeof pg_migrations[0]))

#define PG_JOB_COLUMNS \
	"type, state, cancel, created_ms, started_ms, finished_ms, " \
	"idem_key, idem_request, spec, version"

struct pg {
	char	*conninfo;
	char	*name;		/* for messages: the URI, password hidden */
	PGconn	*conn;
};

/* A growing SQL text. */
struct sqlbuf {
	char	*p;
	size_t	 len, cap;
};

static void
sql_add(struct sqlbuf *b, const char *s)
{
	size_t	n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

static void PRINTFLIKE(2, 3)
sql_addf(struct sqlbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatalx("store: out of memory");
	va_end(ap);
	sql_add(b, s);
	free(s);
}

/* A quoted literal, or NULL; -1 when libpq cannot quote it. */
static int
sql_literal(struct pg *g, struct sqlbuf *b, const char *s)
{
	char	*q;

	if (s == NULL) {
		sql_add(b, "NULL");
		return 0;
	}
	if ((q = PQescapeLiteral(g->conn, s, strlen(s))) == NULL)
		return -1;
	sql_add(b, q);
	PQfreemem(q);
	return 0;
}

/* A negative errno for a failed result (NULL: the connection). */
static int
pg_errno(const PGresult *res)
{
	const char	*state;

	if (res == NULL || (state = PQresultErrorField(res,
	    PG_DIAG_SQLSTATE)) == NULL)
		return -EIO;
	if (strcmp(state, "23505") == 0)	/* unique_violation */
		return -EEXIST;
	if (strcmp(state, "53100") == 0)	/* disk_full */
		return -ENOSPC;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0)	/* serialization, locks */
		return -EBUSY;
	return -EIO;
}

/* Runs sql for one value (the first column of the first row) or none. */
static int
pg_value(struct pg *g, const char *sql, char *out, size_t outlen,
    char *err, size_t errlen)
{
	PGresult	*res;
	int		 ok;

	res = PQexec(g->conn, sql);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK ||
	    PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(err, errlen, "%s: %s", g->name,
		    PQerrorMessage(g->conn));
	else if (out != NULL)
		snprintf(out, outlen, "%s", PQntuples(res) > 0 &&
		    PQnfields(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return ok ? 0 : -1;
}

/* Connects and takes the instance lock: 0, or -1 and err. */
static int
pg_connect(struct pg *g, char *err, size_t errlen)
{
	char	v[16];
	char	*nl;

	if (g->conn != NULL)
		PQfinish(g->conn);
	g->conn = PQconnectdb(g->conninfo);
	if (PQstatus(g->conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s: cannot connect: %s", g->name,
		    PQerrorMessage(g->conn));
		if ((nl = strrchr(err, '\n')) != NULL && nl[1] == '\0')
			*nl = '\0';
		return -1;
	}
	if (pg_value(g, "SET client_min_messages = warning", NULL, 0, err,
	    errlen) != 0 ||
	    pg_value(g, "SELECT pg_try_advisory_lock(" PG_LOCK_KEY ")", v,
	    sizeof v, err, errlen) != 0)
		return -1;
	if (strcmp(v, "t") != 0) {
		snprintf(err, errlen, "%s is in use by another running "
		    "stockcam (one instance a database for now)", g->name);
		return -1;
	}
	return 0;
}

/* Brings the schema to PG_VERSION: 0, or -1 and err. */
static int
pg_migrate(struct pg *g, char *err, size_t errlen)
{
	char	v[32], sql[64];
	int	version, i;

	if (pg_value(g, "SELECT to_regclass('stockcam_schema') IS NOT NULL",
	    v, sizeof v, err, errlen) != 0)
		return -1;
	if (strcmp(v, "t") == 0) {
		if (pg_value(g, "SELECT max(version) FROM stockcam_schema", v,
		    sizeof v, err, errlen) != 0)
			return -1;
		version = atoi(v);
	} else {
		if (pg_value(g, "SELECT to_regclass('jobs') IS NOT NULL", v,
		    sizeof v, err, errlen) != 0)
			return -1;
		if (strcmp(v, "t") == 0) {
			snprintf(err, errlen, "%s has a jobs table but no "
			    "stockcam schema (a database of something else)",
			    g->name);
			return -1;
		}
		version = 0;
	}
	if (version > PG_VERSION) {
		snprintf(err, errlen, "%s: the database has schema version %d; "
		    "this stockcam knows up to %d: use a newer stockcam",
		    g->name, version, PG_VERSION);
		return -1;
	}
	if (version == PG_VERSION)
		return 0;
	if (pg_value(g, "BEGIN", NULL, 0, err, errlen) != 0)
		return -1;
	for (i = version; i < PG_VERSION; i++)
		if (pg_value(g, pg_migrations[i], NULL, 0, err, errlen) != 0)
			goto fail;
	snprintf(sql, sizeof sql, "UPDATE stockcam_schema SET version = %d",
	    PG_VERSION);
	if (pg_value(g, sql, NULL, 0, err, errlen) != 0 ||
	    pg_value(g, "COMMIT", NULL, 0, err, errlen) != 0)
		goto fail;
	log_info("store: %s: schema version %d to %d", g->name, version,
	    PG_VERSION);
	return 0;

fail:
	pg_value(g, "ROLLBACK", NULL, 0, NULL, 0);
	return -1;
}

static void
pg_close(void *h)
{
	struct pg	*g = h;

	if (g == NULL)
		return;
	if (g->conn != NULL)
		PQfinish(g->conn);	/* and the advisory lock with it */
	free(g->conninfo);
	free(g->name);
	free(g);
}

static void *
pg_open(const char *conninfo, enum store_sync sync, char *err,
    size_t errlen)
{
	struct pg	*g;

	(void)sync;	/* durability is the server's (synchronous_commit) */
	g = xcalloc(1, sizeof *g);
	g->conninfo = xstrdup(conninfo);
	g->name = store_spec_shown(conninfo);
	if (pg_connect(g, err, errlen) != 0 || pg_migrate(g, err, errlen) != 0) {
		pg_close(g);
		return NULL;
	}
	return g;
}

static int
pg_load(void *h, store_job_fn *job_fn, store_item_fn *item_fn, void *arg,
    char *err, size_t errlen)
{
	static const char *const queries[2] = {
		"SELECT id, " PG_JOB_COLUMNS " FROM jobs ORDER BY id",
		"SELECT job, idx, data FROM items ORDER BY job, idx",
	};
	struct pg		*g = h;
	struct store_job	 job;
	struct store_item	 item;
	PGresult		*res;
	int			 q, stopped = 0, failed = 0;

	for (q = 0; q < 2; q++) {
		if (!PQsendQuery(g->conn, queries[q]) ||
		    !PQsetSingleRowMode(g->conn)) {
			snprintf(err, errlen, "%s: loading: %s", g->name,
			    PQerrorMessage(g->conn));
			return -1;
		}
		/* Read every result, also after a stop: the connection
		 * must be idle again for the commits. */
		while ((res = PQgetResult(g->conn)) != NULL) {
			if (PQresultStatus(res) == PGRES_SINGLE_TUPLE &&
			    !stopped && !failed && q == 0) {
				job.id = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
				job.type = PQgetvalue(res, 0, 1);
				job.state = atoi(PQgetvalue(res, 0, 2));
				job.cancel = atoi(PQgetvalue(res, 0, 3));
				job.created_ms = strtoll(PQgetvalue(res, 0, 4),
				    NULL, 10);
				job.started_ms = strtoll(PQgetvalue(res, 0, 5),
				    NULL, 10);
				job.finished_ms = strtoll(PQgetvalue(res, 0, 6),
				    NULL, 10);
				job.idem_key = PQgetisnull(res, 0, 7) ? NULL :
				    PQgetvalue(res, 0, 7);
				job.idem_request = PQgetisnull(res, 0, 8) ?
				    NULL : PQgetvalue(res, 0, 8);
				job.spec = PQgetvalue(res, 0, 9);
				job.version = strtoull(PQgetvalue(res, 0, 10),
				    NULL, 10);
				stopped = job_fn(&job, arg, err, errlen) != 0;
			} else if (PQresultStatus(res) == PGRES_SINGLE_TUPLE &&
			    !stopped && !failed) {
				item.job = strtoull(PQgetvalue(res, 0, 0), NULL,
				    10);
				item.index = (uint32_t)strtoul(PQgetvalue(res, 0,
				    1), NULL, 10);
				item.data = PQgetvalue(res, 0, 2);
				stopped = item_fn(&item, arg, err, errlen) != 0;
			} else if (PQresultStatus(res) != PGRES_SINGLE_TUPLE &&
			    PQresultStatus(res) != PGRES_TUPLES_OK && !failed) {
				failed = 1;
				snprintf(err, errlen, "%s: loading: %s", g->name,
				    PQresultErrorMessage(res));
			}
			PQclear(res);
		}
		if (stopped || failed)
			return -1;
	}
	return 0;
}

/* A job's columns, in PG_JOB_COLUMNS order. */
static int
pg_job_values(struct pg *g, struct sqlbuf *b, const struct store_job *job)
{
	if (sql_literal(g, b, job->type) != 0)
		return -1;
	sql_addf(b, ", %d, %d, %" PRId64 ", %" PRId64 ", %" PRId64 ", ",
	    job->state, job->cancel, job->created_ms, job->started_ms,
	    job->finished_ms);
	if (sql_literal(g, b, job->idem_key) != 0)
		return -1;
	sql_add(b, ", ");
	if (sql_literal(g, b, job->idem_request) != 0)
		return -1;
	sql_add(b, ", ");
	if (sql_literal(g, b, job->spec) != 0)
		return -1;
	sql_addf(b, ", %" PRIu64, job->version);
	return 0;
}

/*
 * One transaction's statements. *inserted: whether it inserts a job
 * (its RETURNING row is then the transaction's id); *explicit: whether
 * it puts a job under an id of its own. 0, -EINVAL for an item of job 0
 * with no job inserted before it, or -EIO when a value cannot be quoted.
 */
static int
pg_statements(struct pg *g, struct sqlbuf *b, const struct store_txn *txn,
    int *inserted, int *explicit)
{
	const struct store_op	*op;

	*inserted = 0;
	STAILQ_FOREACH(op, &txn->ops, entry) {
		switch (op->kind) {
		case STORE_OP_PUT_JOB:
			if (op->job.id == 0) {
				sql_add(b, "INSERT INTO jobs (" PG_JOB_COLUMNS
				    ") VALUES (");
				if (pg_job_values(g, b, &op->job) != 0)
					return -EIO;
				sql_add(b, ") RETURNING id;\n");
				*inserted = 1;
			} else if (op->job.spec == NULL) {
				sql_addf(b, "UPDATE jobs SET state = %d, "
				    "cancel = %d, created_ms = %" PRId64 ", "
				    "started_ms = %" PRId64 ", finished_ms = %"
				    PRId64 ", idem_key = ", op->job.state,
				    op->job.cancel, op->job.created_ms,
				    op->job.started_ms, op->job.finished_ms);
				if (sql_literal(g, b, op->job.idem_key) != 0)
					return -EIO;
				sql_add(b, ", idem_request = ");
				if (sql_literal(g, b,
				    op->job.idem_request) != 0)
					return -EIO;
				sql_addf(b, ", version = %" PRIu64 " WHERE id = %"
				    PRIu64 ";\n", op->job.version, op->job.id);
			} else {
				sql_addf(b, "INSERT INTO jobs (id, "
				    PG_JOB_COLUMNS ") VALUES (%" PRIu64 ", ",
				    op->job.id);
				if (pg_job_values(g, b, &op->job) != 0)
					return -EIO;
				sql_add(b, ") ON CONFLICT (id) DO UPDATE SET "
				    "type = excluded.type, "
				    "state = excluded.state, "
				    "cancel = excluded.cancel, "
				    "created_ms = excluded.created_ms, "
				    "started_ms = excluded.started_ms, "
				    "finished_ms = excluded.finished_ms, "
				    "idem_key = excluded.idem_key, "
				    "idem_request = excluded.idem_request, "
				    "spec = excluded.spec, "
				    "version = excluded.version;\n");
				*explicit = 1;
			}
			break;
		case STORE_OP_PUT_ITEM:
			if (op->item.job == 0 && !*inserted)
				return -EINVAL;
			sql_add(b, "INSERT INTO items (job, idx, data) VALUES (");
			if (op->item.job == 0)
				sql_add(b, "currval(pg_get_serial_sequence("
				    "'jobs', 'id'))");
			else
				sql_addf(b, "%" PRIu64, op->item.job);
			sql_addf(b, ", %" PRIu32 ", ", op->item.index);
			if (sql_literal(g, b, op->item.data) != 0)
				return -EIO;
			sql_add(b, ") ON CONFLICT (job, idx) DO UPDATE SET "
			    "data = excluded.data;\n");
			break;
		case STORE_OP_DELETE_JOB:
			sql_addf(b, "DELETE FROM jobs WHERE id = %" PRIu64 ";\n",
			    op->id);
			break;
		}
	}
	return 0;
}

static int
pg_commit(void *h, struct store_txn **txns, size_t n)
{
	struct pg	*g = h;
	struct sqlbuf	 b = { NULL, 0, 0 };
	PGresult	*res;
	char		 err[256];
	int		*inserts, explicit = 0, rv = 0, st;
	size_t		 i, next = 0;

	if (PQstatus(g->conn) != CONNECTION_OK) {
		if (pg_connect(g, err, sizeof err) != 0) {
			log_warn("store: %s", err);
			rv = -EIO;
			goto out_ids;
		}
		log_info("store: %s: connected again", g->name);
	}
	inserts = xcalloc(n, sizeof *inserts);
	sql_add(&b, "");
	for (i = 0; i < n && rv == 0; i++)
		rv = pg_statements(g, &b, txns[i], &inserts[i], &explicit);
	/* An id put by hand must never come again from the sequence. */
	if (rv == 0 && explicit)
		sql_add(&b, "SELECT setval(pg_get_serial_sequence('jobs', "
		    "'id'), (SELECT max(id) FROM jobs));\n");
	if (rv == 0 && b.len > 0 && !PQsendQuery(g->conn, b.p))
		rv = -EIO;
	if (rv == 0 && b.len > 0) {
		/* One result a statement; RETURNING rows in txn order. */
		while ((res = PQgetResult(g->conn)) != NULL) {
			st = PQresultStatus(res);
			if (st == PGRES_TUPLES_OK && rv == 0 &&
			    PQnfields(res) == 1 && PQntuples(res) == 1 &&
			    strcmp(PQfname(res, 0), "id") == 0) {
				while (next < n && !inserts[next])
					next++;
				if (next < n)
					txns[next++]->id = strtoull(
					    PQgetvalue(res, 0, 0), NULL, 10);
			} else if (st != PGRES_COMMAND_OK &&
			    st != PGRES_TUPLES_OK && rv == 0) {
				rv = pg_errno(res);
				log_debug("store: %s: commit of %zu: %s",
				    g->name, n, PQresultErrorMessage(res));
			}
			PQclear(res);
		}
		if (rv == 0 && PQstatus(g->conn) != CONNECTION_OK)
			rv = -EIO;
	}
	if (rv == -EINVAL)
		log_debug("store: %s: an item of job 0 and no job inserted",
		    g->name);
	free(inserts);
	free(b.p);
out_ids:
	if (rv != 0)
		for (i = 0; i < n; i++)
			txns[i]->id = 0;
	return rv;
}

const struct store_backend store_pg_backend = {
	.name = "postgresql",
	.open = pg_open,
	.load = pg_load,
	.commit = pg_commit,
	.close = pg_close,
};

#endif /* HAVE_POSTGRESQL */
