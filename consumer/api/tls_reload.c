/* Reloading the HTTPS certificate (api.h: rt_api_tls_reload) and the thread that does it when
 * the consumer gets SIGHUP. libmicrohttpd 0.9.75 cannot change a running daemon's certificate
 * (its certificate callback would mean a GnuTLS credential swapped under handshakes in flight),
 * so a reload starts a second daemon with the new files on the same listening socket and stops
 * the first: MHD_quiesce_daemon hands the socket over, so no connection is refused meanwhile
 * and the port never changes (docs/decisions.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "rt_buf.h"

int rt_api_tls_reload(rt_api_t *api, char *err, size_t errsize)
{
    if (!api || !api->tls)
        return 1;
    rt_tls_cred_t cred;
    if (rt_tls_load(api->cfg, &cred, err, errsize) != 0) {
        atomic_fetch_add(&api->tls_reload_failures, 1);
        return -1;
    }
    pthread_mutex_lock(&api->mhd_mu);
    struct MHD_Daemon *old = api->mhd;
    MHD_socket fd = old ? MHD_quiesce_daemon(old) : MHD_INVALID_SOCKET;
    if (fd == MHD_INVALID_SOCKET) {
        pthread_mutex_unlock(&api->mhd_mu);
        rt_tls_cred_free(&cred);
        snprintf(err, errsize, "http api: cannot hand the listening socket over");
        atomic_fetch_add(&api->tls_reload_failures, 1);
        return -1;
    }
    rt_tls_cred_t old_cred = api->cred;
    api->cred = cred;
    int rc = 0;
    if (!(api->mhd = rt_api_daemon_new(api, fd, err, errsize))) {
        /* The quiesced daemon cannot take the socket back: serve it again with the old files. */
        rt_tls_cred_free(&api->cred);
        api->cred = old_cred;
        memset(&old_cred, 0, sizeof old_cred);
        char err2[256];
        if (!(api->mhd = rt_api_daemon_new(api, fd, err2, sizeof err2)))
            close(fd); /* nothing serves it any more: the log says so (caller) */
        rc = -1;
    }
    pthread_mutex_unlock(&api->mhd_mu);
    /* The old daemon's open connections finish their requests (bounded by the statement
     * timeout); it does not close the socket it gave away. Then its files can go. */
    MHD_stop_daemon(old);
    rt_tls_cred_free(&old_cred);
    if (rc == 0)
        atomic_fetch_add(&api->tls_reloads, 1);
    else
        atomic_fetch_add(&api->tls_reload_failures, 1);
    return rc;
}

/* The reload thread: one reload per post of hooks.reload_sem until the API stops. */
static void *reload_main(void *arg)
{
    rt_api_t *api = arg;
    for (;;) {
        while (sem_wait(api->hooks.reload_sem) != 0 && errno == EINTR)
            ;
        if (atomic_load(&api->stopping))
            break;
        char err[512];
        int rc = rt_api_tls_reload(api, err, sizeof err);
        if (rc == 0)
            rt_log(RT_L_INFO, "HTTPS certificate reloaded", "sha256=%s not_after=%s",
                   api->cred.sha256, api->cred.not_after);
        else if (rc < 0)
            rt_log(RT_L_ERROR, "HTTPS certificate not reloaded",
                   "error=\"%s\" serving=%s", err, api->mhd ? "previous certificate" : "nothing");
    }
    return NULL;
}

int rt_api_reload_thread_start(rt_api_t *api, char *err, size_t errsize)
{
    if (!api->tls || !api->hooks.reload_sem)
        return 0;
    if (pthread_create(&api->reload_thread, NULL, reload_main, api) != 0) {
        snprintf(err, errsize, "http api: cannot start the certificate reload thread");
        return -1;
    }
    api->reload_started = 1;
    return 0;
}

void rt_api_reload_thread_stop(rt_api_t *api)
{
    if (!api->reload_started)
        return;
    atomic_store(&api->stopping, 1);
    sem_post(api->hooks.reload_sem);
    pthread_join(api->reload_thread, NULL);
    api->reload_started = 0;
}

void rt_api_tls_metrics(rt_api_t *api, rt_buf_t *b)
{
    if (!api->tls)
        return;
    rt_buf_addf(b,
                "# HELP runtrack_http_tls_reloads_total HTTPS certificate reloads (SIGHUP) that "
                "took effect.\n"
                "# TYPE runtrack_http_tls_reloads_total counter\n"
                "runtrack_http_tls_reloads_total %lu\n"
                "# HELP runtrack_http_tls_reload_failures_total HTTPS certificate reloads refused "
                "(unreadable or mismatched files); the previous certificate stays in use.\n"
                "# TYPE runtrack_http_tls_reload_failures_total counter\n"
                "runtrack_http_tls_reload_failures_total %lu\n",
                atomic_load(&api->tls_reloads), atomic_load(&api->tls_reload_failures));
}
