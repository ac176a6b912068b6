/* `runtrack run -- COMMAND`: run any program as a tracked run. The child's stdout/stderr come
 * through pipes; every line is passed through to our own stdout/stderr and recorded as a log
 * event. Signal handlers only write the signal number to a self-pipe; the poll loop forwards
 * it to the child. The library sends heartbeats on its own thread while the child runs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define LINE_BUF (64 * 1024)

/* The self-pipe's write end: the only state a signal handler touches. */
static volatile sig_atomic_t g_sig_fd = -1;

static void on_signal(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    /* A terminal's Ctrl-C already reaches the child (same process group); forward only signals
     * sent to us alone (kill, systemd, timeout...), so the child does not get it twice. */
    if (si && si->si_code == SI_KERNEL)
        return;
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (g_sig_fd >= 0 && write(g_sig_fd, &b, 1) < 0) {
        /* nothing to do in a handler */
    }
    errno = saved;
}

typedef struct stream {
    int fd;     /* read end, -1 when closed */
    int out_fd; /* where to pass output through: 1 or 2 */
    runtrack_level_t level;
    char buf[LINE_BUF];
    size_t len;
} stream_t;

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* our own stdout closed: keep recording anyway */
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Records one line: a leading "ERROR:", "WARNING:", "SUCCESS:" or "INFO:" sets the level and is
 * stripped (with the spaces after it); otherwise the stream's level applies. */
static void log_line(runtrack_run_t *run, runtrack_level_t def, const char *line, size_t n)
{
    static const struct {
        const char *prefix;
        runtrack_level_t level;
    } prefixes[] = {{"ERROR:", RUNTRACK_ERROR},
                    {"WARNING:", RUNTRACK_WARNING},
                    {"SUCCESS:", RUNTRACK_SUCCESS},
                    {"INFO:", RUNTRACK_INFO}};
    runtrack_level_t level = def;
    if (n > 0 && line[n - 1] == '\r')
        n--;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t pl = strlen(prefixes[i].prefix);
        if (n >= pl && memcmp(line, prefixes[i].prefix, pl) == 0) {
            level = prefixes[i].level;
            line += pl;
            n -= pl;
            while (n > 0 && (*line == ' ' || *line == '\t')) {
                line++;
                n--;
            }
            break;
        }
    }
    /* The message must be a C string for runtrack_run_log; lines are bounded by LINE_BUF. */
    char tmp[LINE_BUF + 1];
    memcpy(tmp, line, n);
    tmp[n] = '\0';
    runtrack_run_log(run, level, tmp, NULL); /* a full queue drops and counts: fine */
}

/* Reads what is available; emits complete lines (and over-long ones in LINE_BUF chunks).
 * Returns 0, or -1 at EOF/error (fd closed, partial line flushed). */
static int pump(stream_t *s, runtrack_run_t *run)
{
    ssize_t r = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (r <= 0) {
        if (s->len) {
            log_line(run, s->level, s->buf, s->len);
            s->len = 0;
        }
        close(s->fd);
        s->fd = -1;
        return -1;
    }
    write_all(s->out_fd, s->buf + s->len, (size_t)r);
    s->len += (size_t)r;
    size_t start = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (s->buf[i] == '\n') {
            log_line(run, s->level, s->buf + start, i - start);
            start = i + 1;
        }
    }
    if (start == 0 && s->len == sizeof s->buf) {
        log_line(run, s->level, s->buf, s->len);
        start = s->len;
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    return 0;
}

static const char *signame(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {{SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"},
                 {SIGILL, "SIGILL"},   {SIGABRT, "SIGABRT"}, {SIGFPE, "SIGFPE"},
                 {SIGKILL, "SIGKILL"}, {SIGSEGV, "SIGSEGV"}, {SIGPIPE, "SIGPIPE"},
                 {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGBUS, "SIGBUS"},
                 {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig)
            return names[i].name;
    return "signal";
}

int cli_wrap(cli_opts_t *o, char **argv)
{
    int code = 0;
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, sigp[2] = {-1, -1};
    stream_t *streams = NULL;
    runtrack_run_t *run = NULL;
    runtrack_t *rt = NULL;
    run = cli_start_run(o, "run", &rt, &code);
    if (!run)
        return code;
    streams = calloc(2, sizeof *streams);
    if (!streams || pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) ||
        pipe2(sigp, O_CLOEXEC | O_NONBLOCK)) {
        cli_err("run: cannot create pipes: %s", strerror(errno));
        runtrack_run_finish(
            run, RUNTRACK_FAILED,
            &(runtrack_finish_opts_t){.error_message = "runtrack run: cannot create pipes"}, NULL,
            0);
        code = EX_TEMPFAIL_;
        goto out;
    }
    g_sig_fd = sigp[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* our stdout going away must not kill the wrapper */

    setenv("RUNTRACK_RUN_ID", runtrack_run_id(run), 1);
    setenv("RUNTRACK_JOB", o->job, 1);
    setenv("RUNTRACK_KIND", o->kind ? o->kind : "scrape", 1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        cli_err("run: cannot fork: %s", strerror(errno));
        runtrack_run_finish(run, RUNTRACK_FAILED,
                            &(runtrack_finish_opts_t){.error_message = "runtrack run: fork failed"},
                            NULL, 0);
        code = EX_TEMPFAIL_;
        goto out;
    }
    if (pid == 0) {
        /* Child: default signal handling, output into the pipes, then exec. */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        if (dup2(outp[1], 1) < 0 || dup2(errp[1], 2) < 0)
            _exit(126);
        execvp(argv[0], argv);
        /* Only async-signal-safe calls here: the parent has other threads (libruntrack's). */
        int e = errno;
        const char *why = e == ENOENT   ? ": command not found\n"
                          : e == EACCES ? ": permission denied\n"
                                        : ": cannot execute\n";
        if (write(2, "runtrack run: ", 14) < 0 || write(2, argv[0], strlen(argv[0])) < 0 ||
            write(2, why, strlen(why)) < 0) {
            /* nothing more we can do */
        }
        _exit(e == ENOENT ? 127 : 126);
    }
    close(outp[1]);
    close(errp[1]);
    outp[1] = errp[1] = -1;
    streams[0].fd = outp[0];
    streams[0].out_fd = 1;
    streams[0].level = RUNTRACK_INFO;
    streams[1].fd = errp[0];
    streams[1].out_fd = 2;
    streams[1].level = RUNTRACK_WARNING;
    outp[0] = errp[0] = -1;

    int status = 0, exited = 0;
    for (;;) {
        struct pollfd pf[3];
        int n = 0, idx[3];
        for (int i = 0; i < 2; i++) {
            if (streams[i].fd >= 0) {
                pf[n].fd = streams[i].fd;
                pf[n].events = POLLIN;
                idx[n++] = i;
            }
        }
        pf[n].fd = sigp[0];
        pf[n].events = POLLIN;
        idx[n++] = -1;
        /* Wake regularly: a grandchild may hold our pipes open after the child exits. */
        int pr = poll(pf, (nfds_t)n, 200);
        if (pr < 0 && errno != EINTR)
            break;
        for (int k = 0; pr > 0 && k < n; k++) {
            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (idx[k] < 0) {
                unsigned char b;
                while (read(sigp[0], &b, 1) == 1)
                    kill(pid, b);
            } else {
                pump(&streams[idx[k]], run);
            }
        }
        if (!exited) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid)
                exited = 1;
        }
        if (streams[0].fd < 0 && streams[1].fd < 0) {
            if (!exited && waitpid(pid, &status, 0) == pid)
                exited = 1;
            break;
        }
        if (exited) {
            /* Drain what is already written, then stop even if a grandchild keeps the pipes. */
            for (int i = 0; i < 2; i++) {
                if (streams[i].fd < 0)
                    continue;
                fcntl(streams[i].fd, F_SETFL, O_NONBLOCK);
                while (streams[i].fd >= 0) {
                    ssize_t before = (ssize_t)streams[i].len;
                    errno = 0;
                    if (pump(&streams[i], run) != 0)
                        break;
                    if ((ssize_t)streams[i].len == before && errno == EAGAIN)
                        break;
                }
                if (streams[i].fd >= 0) {
                    if (streams[i].len)
                        log_line(run, streams[i].level, streams[i].buf, streams[i].len);
                    close(streams[i].fd);
                    streams[i].fd = -1;
                }
            }
            break;
        }
    }

    char msg[128], details[128];
    runtrack_finish_opts_t fo = {0};
    runtrack_status_t st = RUNTRACK_COMPLETED;
    if (WIFEXITED(status)) {
        code = WEXITSTATUS(status);
        if (code != 0) {
            st = RUNTRACK_FAILED;
            snprintf(msg, sizeof msg, "%s exited with status %d", argv[0], code);
            snprintf(details, sizeof details, "{\"exit_code\":%d}", code);
            fo.error_message = msg;
            fo.error_details_json = details;
        }
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        code = 128 + sig;
        st = RUNTRACK_FAILED;
        snprintf(msg, sizeof msg, "%s killed by signal %d (%s)", argv[0], sig, signame(sig));
        snprintf(details, sizeof details, "{\"signal\":%d,\"signal_name\":\"%s\"}", sig,
                 signame(sig));
        fo.error_message = msg;
        fo.error_details_json = details;
    } else {
        code = EX_SOFTWARE_;
        st = RUNTRACK_FAILED;
        fo.error_message = "runtrack run: lost track of the child process";
    }
    runtrack_run_finish(run, st, &fo, NULL, 0);
out:
    runtrack_run_destroy(run);
    {
        int fcode = cli_finish_client(rt, o->timeout_ms);
        if (fcode != 0 && code == 0)
            code = fcode; /* the child succeeded but its run was not recorded: say so */
    }
    g_sig_fd = -1;
    int fds[] = {outp[0], outp[1], errp[0], errp[1], sigp[0], sigp[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (streams) {
        for (int i = 0; i < 2; i++)
            if (streams[i].fd >= 0)
                close(streams[i].fd);
    }
    free(streams);
    return code;
}
