/*
 * fuzz_submit.c - libFuzzer harness for the check of a POST /api/jobs
 * body (api_jobs_check, what the API runs before making a job).
 *
 * A refusal must say why; an acceptance must be a stock job with 1 to
 * max_symbols distinct string symbols, or an Armstrong range from < to.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api_jobs.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_jobs_check	 ck;
	const unsigned		 max = 64;
	size_t			 i, j, n;

	if (size > 65536)
		return 0;
	if (api_jobs_check((const char *)data, size, max, &ck) != 0) {
		if (ck.error == NULL || ck.error[0] == '\0')
			abort();
		api_jobs_check_free(&ck);
		return 0;
	}
	if (ck.error != NULL || ck.obj == NULL || ck.type == NULL)
		abort();
	if (strcmp(ck.type, "armstrong") == 0) {
		if (ck.symbols != NULL || ck.from >= ck.to)
			abort();
	} else {
		if (strcmp(ck.type, "stock") != 0 || !json_is_array(ck.symbols))
			abort();
		n = json_array_size(ck.symbols);
		if (n == 0 || n > max)
			abort();
		for (i = 0; i < n; i++) {
			if (!json_is_string(json_array_get(ck.symbols, i)))
				abort();
			for (j = 0; j < i; j++) {	/* n <= 64: a scan */
				if (strcmp(json_string_value(json_array_get(
				    ck.symbols, i)), json_string_value(
				    json_array_get(ck.symbols, j))) == 0)
					abort();
			}
		}
	}
	api_jobs_check_free(&ck);
	return 0;
}
