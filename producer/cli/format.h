/* Text for people from the API's JSON (the query commands): local times, human durations,
 * "k=v" maps, status colours, aligned tables. Nothing here reads the network or stdin; the
 * printing functions write to stdout. */
#ifndef RT_CLI_FORMAT_H
#define RT_CLI_FORMAT_H

#include <jansson.h>
#include <stddef.h>

/* Copies s with control characters replaced, so API text can never drive the terminal:
 * newline/tab/CR become a space, other C0 bytes and DEL a '?'. Returns malloc'd text or NULL. */
char *fmt_printable(const char *s);

/* The string member key of o, or NULL (absent, null, not a string). */
const char *fmt_jstr(json_t *o, const char *key);

/* A JSON number (integer or real) as double; 0 and *ok = 0 when absent/null/not a number. */
double fmt_jnum(json_t *o, const char *key, int *ok);

/* RFC 3339 from the API → "YYYY-MM-DD HH:MM:SS" in the local zone (TZ); "-" when null. */
void fmt_time(const char *rfc, char *buf, size_t size);

/* Seconds → "850ms", "12.3s", "5m 03s", "2h 05m", "3d 04h"; "-" when unknown (!ok). */
void fmt_dur(double s, int ok, char *buf, size_t size);

/* Member key of o as "12.5%" / as an integer; "-" when it is not one. */
void fmt_pct(json_t *o, const char *key, char *buf, size_t size);
void fmt_int(json_t *o, const char *key, char *buf, size_t size);

/* "k=v k=v" of a flat JSON object by key name (values in JSON form; PostgreSQL's jsonb keeps
 * its own key order), cut to max bytes with "..." (0: no cut); "-" when empty or null. Returns
 * malloc'd text or NULL. */
char *fmt_kv(json_t *obj, size_t max);

/* Writes text padded to width columns, in its status colour when color is on and colored is
 * set and the text is a status that has one. */
void fmt_cell(int color, const char *text, size_t width, int colored);

/* Prints "Key           value" (value made printable; "-" for NULL). */
void fmt_kv_line(const char *key, const char *val);

#define TABLE_MAX_COLS 12

/* Rows of text cells printed as aligned columns. Set ncols, head and color_col; zero the rest. */
typedef struct table {
    int ncols;
    const char *head[TABLE_MAX_COLS];
    int color_col; /* column whose values are statuses to colour, or -1 */
    char **cells;  /* nrows * ncols, each owned */
    size_t nrows, cap;
} table_t;

void table_free(table_t *t);

/* Adds a row of ncols texts (copied, made printable; NULL prints "-"). 0 or -1 (memory). */
int table_add(table_t *t, const char *const *vals);

/* Prints the header and rows, columns two spaces apart, the last column unpadded. */
void table_print(int color, const table_t *t, const char *indent);

#endif
