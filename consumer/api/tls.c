/* The HTTPS credential (tls.h): files read whole, checked with GnuTLS, key wiped on free. */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rt_buf.h"

/* A PEM certificate chain or key is a few KiB; a bigger file is the wrong file. */
#define TLS_FILE_MAX (1024 * 1024)

int rt_tls_wanted(const rt_config_t *cfg)
{
    return cfg && cfg->http_tls_cert_file && *cfg->http_tls_cert_file && cfg->http_tls_key_file &&
           *cfg->http_tls_key_file;
}

/* Reads the regular file path (setting name for the message) into a malloc'd NUL-terminated
 * text. Sized once from fstat, so no growing copy of a key is left behind in freed memory.
 * Returns the text, or NULL with err (path and errno text only). */
static char *read_pem(const char *setting, const char *path, char *err, size_t errsize)
{
    char *text = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errsize, "%s '%s': cannot read: %s", setting, path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > TLS_FILE_MAX) {
        snprintf(err, errsize, "%s '%s': not a PEM file (a regular file of 1 byte to 1 MiB)",
                 setting, path);
        goto out;
    }
    size_t n = (size_t)st.st_size, got = 0;
    if (!(text = malloc(n + 1))) {
        snprintf(err, errsize, "%s: out of memory", setting);
        goto out;
    }
    while (got < n) {
        ssize_t r = read(fd, text + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errsize, "%s '%s': cannot read: %s", setting, path,
                     r < 0 ? strerror(errno) : "file shrank while read");
            explicit_bzero(text, got);
            free(text);
            text = NULL;
            goto out;
        }
        got += (size_t)r;
    }
    text[n] = '\0';
out:
    if (fd >= 0)
        close(fd);
    return text;
}

/* Fills c's fingerprint and expiry from its (first) certificate. 0, or -1 with err. */
static int describe(rt_tls_cred_t *c, const rt_config_t *cfg, char *err, size_t errsize)
{
    gnutls_x509_crt_t crt;
    gnutls_datum_t d = {(unsigned char *)c->cert, (unsigned)strlen(c->cert)};
    unsigned char fp[32];
    size_t fplen = sizeof fp;
    int rc = -1;
    if (gnutls_x509_crt_init(&crt) < 0) {
        snprintf(err, errsize, "http_tls_cert_file: out of memory");
        return -1;
    }
    int g = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM);
    if (g >= 0)
        g = gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fplen);
    if (g < 0) {
        snprintf(err, errsize, "http_tls_cert_file '%s': not a PEM certificate: %s",
                 cfg->http_tls_cert_file, gnutls_strerror(g));
        goto out;
    }
    size_t pos = 0;
    for (size_t i = 0; i < fplen && pos + 4 <= sizeof c->sha256; i++)
        pos += (size_t)snprintf(c->sha256 + pos, sizeof c->sha256 - pos, "%s%02X", i ? ":" : "",
                                fp[i]);
    time_t exp = gnutls_x509_crt_get_expiration_time(crt);
    struct tm tm;
    if (exp == (time_t)-1 || !gmtime_r(&exp, &tm) ||
        strftime(c->not_after, sizeof c->not_after, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(c->not_after, sizeof c->not_after, "unknown");
    rc = 0;
out:
    gnutls_x509_crt_deinit(crt);
    return rc;
}

/* 0 when key belongs to cert (both PEM), as libmicrohttpd will load them; else -1 with err. */
static int check_pair(const rt_tls_cred_t *c, const rt_config_t *cfg, char *err, size_t errsize)
{
    gnutls_certificate_credentials_t x;
    if (gnutls_certificate_allocate_credentials(&x) < 0) {
        snprintf(err, errsize, "http_tls_cert_file: out of memory");
        return -1;
    }
    gnutls_datum_t cd = {(unsigned char *)c->cert, (unsigned)strlen(c->cert)};
    gnutls_datum_t kd = {(unsigned char *)c->key, (unsigned)strlen(c->key)};
    int g = gnutls_certificate_set_x509_key_mem2(x, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(x);
    if (g < 0) {
        /* GnuTLS' words only ("The certificate and the given key do not match", "Base64
         * decoding error"): they describe the files, never quote them. */
        snprintf(err, errsize,
                 "http_tls_cert_file '%s' / http_tls_key_file '%s': not a usable pair "
                 "(unencrypted PEM key of that certificate expected): %s",
                 cfg->http_tls_cert_file, cfg->http_tls_key_file, gnutls_strerror(g));
        return -1;
    }
    return 0;
}

int rt_tls_load(const rt_config_t *cfg, rt_tls_cred_t *out, char *err, size_t errsize)
{
    memset(out, 0, sizeof *out);
    if (!(out->cert = read_pem("http_tls_cert_file", cfg->http_tls_cert_file, err, errsize)) ||
        !(out->key = read_pem("http_tls_key_file", cfg->http_tls_key_file, err, errsize)) ||
        describe(out, cfg, err, errsize) != 0 || check_pair(out, cfg, err, errsize) != 0) {
        rt_tls_cred_free(out);
        return -1;
    }
    return 0;
}

void rt_tls_cred_free(rt_tls_cred_t *c)
{
    if (c->key) {
        explicit_bzero(c->key, strlen(c->key));
        free(c->key);
    }
    free(c->cert);
    memset(c, 0, sizeof *c);
}

int rt_tls_check_settings(const rt_config_t *cfg, char *err, size_t errsize)
{
    int has_cert = cfg->http_tls_cert_file && *cfg->http_tls_cert_file;
    int has_key = cfg->http_tls_key_file && *cfg->http_tls_key_file;
    if (!has_cert && !has_key)
        return 0;
    if (!has_cert || !has_key) {
        snprintf(err, errsize, "%s is set but %s is not: HTTPS needs both (or neither)",
                 has_cert ? "http_tls_cert_file" : "http_tls_key_file",
                 has_cert ? "http_tls_key_file" : "http_tls_cert_file");
        return -1;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errsize,
                 "http_tls_cert_file: this libmicrohttpd was built without TLS; serve plain HTTP "
                 "behind a TLS proxy instead (docs/operations.md#https)");
        return -1;
    }
    rt_tls_cred_t c;
    if (rt_tls_load(cfg, &c, err, errsize) != 0)
        return -1;
    rt_tls_cred_free(&c);
    return 0;
}

void rt_tls_metrics(rt_buf_t *b, unsigned long reloads, unsigned long failures)
{
    rt_buf_addf(b,
                "# HELP runtrack_http_tls_reloads_total HTTPS certificate reloads (SIGHUP) that "
                "took effect.\n"
                "# TYPE runtrack_http_tls_reloads_total counter\n"
                "runtrack_http_tls_reloads_total %lu\n"
                "# HELP runtrack_http_tls_reload_failures_total HTTPS certificate reloads refused "
                "(unreadable or mismatched files); the previous certificate stays in use.\n"
                "# TYPE runtrack_http_tls_reload_failures_total counter\n"
                "runtrack_http_tls_reload_failures_total %lu\n",
                reloads, failures);
}
