/* job_json.h - a job as its JSON future. */
#ifndef SC_JOB_JSON_H
#define SC_JOB_JSON_H

#include <sys/time.h>

#include <jansson.h>

struct job;

/* The job as JSON; detail: with every item (each symbol of a stock job). */
json_t	*job_json(const struct job *, int detail);
/*
 * The job's summary with the items changed since the last call (for an
 * event: the changes are forgotten once told).
 */
json_t	*job_json_changes(struct job *);
/* A wall-clock time as "2026-01-02T03:04:05.678Z"; null for 0. */
json_t	*job_json_time(const struct timeval *);

#endif
