/* api_files.h - converted files and archives over HTTP. */
#ifndef SC_API_FILES_H
#define SC_API_FILES_H

struct api_files;
struct jobs;
struct pool;
struct router;
struct stockjob;

/* Adds the routes; `io` runs the blocking archive reads. */
struct api_files	*api_files_register(struct router *, struct jobs *,
			    struct stockjob *, struct pool *io);
/* After the io pool is shut down and the last completions have run. */
void			 api_files_free(struct api_files *);

#endif
