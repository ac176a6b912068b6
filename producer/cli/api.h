/* The query commands' access to the runtrack HTTP API (docs/api.md): GET a path, get its JSON
 * object or one line on stderr and the exit code that says why not. */
#ifndef RT_CLI_API_H
#define RT_CLI_API_H

#include <jansson.h>
#include <stddef.h>

#include "rt_attr.h"

typedef struct cli_api {
    const char *base;   /* URL without a trailing '/' */
    const char *token;  /* API key sent as a bearer token, or NULL */
    const char *cacert; /* PEM CA file verifying an https API, or NULL: the system's CAs */
    long timeout_ms;
    char key_buf[1024]; /* the key read from a file (token points here then) */
} cli_api_t;

/* Completes a after the options: the key from key_file (first line; NULL: none) else
 * $RUNTRACK_API_KEY (else the older $RUNTRACK_API_TOKEN); checks that cacert is readable and
 * that a key is not about to go over plain http to another host (unless allow_http). Returns
 * EX_OK_, or 78 after one line on stderr naming the file or host, never the key. */
int api_setup(cli_api_t *a, const char *key_file, int allow_http) RT_MUSTCHECK;

/* Appends "&name=escaped(value)" (or "?..." for the first) to a query string buffer; skips NULL
 * values. 0, or -1 when the buffer is full or memory ran out. */
int api_qs_add(char *buf, size_t size, const char *name, const char *value) RT_MUSTCHECK;

/* GETs base + path and parses the JSON object answer. On 2xx returns 0 with *json (and *raw when
 * raw is not NULL) owned by the caller. Otherwise prints one line and returns the exit code:
 * 69 unreachable or 503, 64 for a 400 (a parameter the API refused), 66 with what404 for a 404
 * when what404 is given (66 without a line when it is "": the caller may wait and ask again),
 * 77 for 401/403, 65 for anything else unexpected. */
int api_get(const cli_api_t *a, const char *path, const char *what404, json_t **json,
            char **raw) RT_MUSTCHECK;

/* Prints a JSON value on one line (the API's form, for --json). Returns the exit code. */
int api_print_json(json_t *v);

/* Prints the API's body as received, newline-terminated. */
void api_print_raw(const char *raw);

#endif
