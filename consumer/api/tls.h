/* The HTTP API's HTTPS credential: the PEM certificate chain and private key named by
 * http_tls_cert_file / http_tls_key_file, read into memory, checked as a pair (GnuTLS, the
 * library Debian's libmicrohttpd uses) and handed to libmicrohttpd. The key's bytes are wiped
 * before they are freed and never reach a log line or an error message: errors name the file
 * and what is wrong with it, never its contents. Used by server.c only. */
#ifndef RT_API_TLS_H
#define RT_API_TLS_H

#include <stddef.h>

#include "config.h"
#include "rt_attr.h"

/* One loaded certificate + key. Owned by whoever loaded it; rt_tls_cred_free wipes and frees. */
typedef struct rt_tls_cred {
    char *cert;      /* PEM text, NUL-terminated */
    char *key;       /* PEM text, NUL-terminated; a secret */
    char sha256[96]; /* the server certificate's SHA-256 fingerprint, "AB:CD:..." (for the log) */
    char not_after[32]; /* its expiry, UTC "YYYY-MM-DDTHH:MM:SSZ" */
} rt_tls_cred_t;

/* 1 when the settings ask for HTTPS (both files named). */
int rt_tls_wanted(const rt_config_t *cfg);

/* The start-time check: both files or neither; when both, this libmicrohttpd supports TLS and
 * the files load as a matching pair (rt_tls_load). Returns 0, or -1 with a one-line reason
 * naming the setting and the file. */
int rt_tls_check_settings(const rt_config_t *cfg, char *err, size_t errsize) RT_MUSTCHECK;

/* Reads both files (each at most 1 MiB, regular files) and checks that the key belongs to the
 * certificate. Returns 0 with *out filled (caller frees with rt_tls_cred_free), or -1 with a
 * one-line reason in err and *out empty. Blocks on file I/O only. */
int rt_tls_load(const rt_config_t *cfg, rt_tls_cred_t *out, char *err, size_t errsize) RT_MUSTCHECK;

/* Wipes the key and frees both texts; c is empty afterwards. An empty c is a no-op. */
void rt_tls_cred_free(rt_tls_cred_t *c);

/* Appends the HTTPS lines of /metrics: reloads that took effect and reloads refused. */
struct rt_buf;
void rt_tls_metrics(struct rt_buf *b, unsigned long reloads, unsigned long failures);

#endif
