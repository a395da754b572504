/*
 * job_json.c - a job as its JSON future: the fields every job has, then
 * its kind's own (jobs_kind.h).
 */
#include "config.h"

#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "jobs/job_json.h"
#include "jobs/jobs_kind.h"
#include "lib/log.h"

json_t *
job_json_time(const struct timeval *tv)
{
	struct tm	tm;
	char		buf[40];
	time_t		t = tv->tv_sec;

	if (tv->tv_sec == 0)
		return json_null();
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + 19, sizeof buf - 19, ".%03ldZ",
	    (long)(tv->tv_usec / 1000));
	return json_string(buf);
}

json_t *
job_json(const struct job *job, int detail)
{
	json_t	*obj;

	obj = json_pack("{s:I, s:s, s:s, s:I, s:o, s:o, s:o}",
	    "id", (json_int_t)job->id, "type", job->kind->name,
	    "state", job_state_name(job->state),
	    "version", (json_int_t)job->version,
	    "created_at", job_json_time(&job->created),
	    "started_at", job_json_time(&job->started),
	    "finished_at", job_json_time(&job->finished));
	if (obj == NULL)
		fatalx("jobs: json_pack");
	job->kind->json(job, obj, detail);
	return obj;
}

json_t *
job_json_changes(struct job *job)
{
	json_t	*obj = job_json(job, 0);

	if (job->kind->changes != NULL)
		job->kind->changes(job, obj);
	return obj;
}
