/* `runtrack run -- COMMAND`: run any program as a tracked run. The child's stdout/stderr come
 * through pipes; every line is passed through to our own stdout/stderr and recorded as a log
 * event. Signal handlers only write the signal number to a self-pipe; the poll loop forwards
 * it to the child. The library sends heartbeats on its own thread while the child runs. */
#include "wrap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "options.h"
#include "state.h"

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

/* The wrapper's own resources: the child's output pipes (whose read ends become the streams)
 * and the signal self-pipe. */
typedef struct wrap {
    int outp[2], errp[2], sigp[2];
    stream_t *streams; /* [0] the child's stdout, [1] its stderr */
    pid_t pid;
} wrap_t;

/* Creates the pipes and the streams and installs the signal handlers. Returns 0, or -1 with
 * errno set. */
static int wrap_setup(wrap_t *w)
{
    w->streams = calloc(2, sizeof *w->streams);
    if (!w->streams || pipe2(w->outp, O_CLOEXEC) || pipe2(w->errp, O_CLOEXEC) ||
        pipe2(w->sigp, O_CLOEXEC | O_NONBLOCK))
        return -1;
    g_sig_fd = w->sigp[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* our stdout going away must not kill the wrapper */
    return 0;
}

/* The child, after fork: default signal handling, output into the pipes, then exec. */
_Noreturn static void exec_child(const wrap_t *w, char **argv)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    if (dup2(w->outp[1], 1) < 0 || dup2(w->errp[1], 2) < 0)
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

/* The parent, after fork: closes the pipes' write ends and reads the child's output through
 * the streams. */
static void take_streams(wrap_t *w)
{
    close(w->outp[1]);
    close(w->errp[1]);
    w->outp[1] = w->errp[1] = -1;
    w->streams[0].fd = w->outp[0];
    w->streams[0].out_fd = 1;
    w->streams[0].level = RUNTRACK_INFO;
    w->streams[1].fd = w->errp[0];
    w->streams[1].out_fd = 2;
    w->streams[1].level = RUNTRACK_WARNING;
    w->outp[0] = w->errp[0] = -1;
}

/* Waits up to 200 ms for output or a signal, passes output on and forwards signals to the
 * child. Returns 0, or -1 when poll failed. */
static int poll_once(wrap_t *w, runtrack_run_t *run)
{
    struct pollfd pf[3];
    int n = 0, idx[3];
    for (int i = 0; i < 2; i++) {
        if (w->streams[i].fd >= 0) {
            pf[n].fd = w->streams[i].fd;
            pf[n].events = POLLIN;
            idx[n++] = i;
        }
    }
    pf[n].fd = w->sigp[0];
    pf[n].events = POLLIN;
    idx[n++] = -1;
    /* Wake regularly: a grandchild may hold our pipes open after the child exits. */
    int pr = poll(pf, (nfds_t)n, 200);
    if (pr < 0 && errno != EINTR)
        return -1;
    for (int k = 0; pr > 0 && k < n; k++) {
        if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (idx[k] < 0) {
            unsigned char b;
            while (read(w->sigp[0], &b, 1) == 1)
                kill(w->pid, b);
        } else {
            pump(&w->streams[idx[k]], run);
        }
    }
    return 0;
}

/* Once the child exited: records what is already written to s, then closes it, even if a
 * grandchild keeps the pipe open. */
static void drain_stream(stream_t *s, runtrack_run_t *run)
{
    if (s->fd < 0)
        return;
    fcntl(s->fd, F_SETFL, O_NONBLOCK);
    while (s->fd >= 0) {
        ssize_t before = (ssize_t)s->len;
        errno = 0;
        if (pump(s, run) != 0)
            break;
        if ((ssize_t)s->len == before && errno == EAGAIN)
            break;
    }
    if (s->fd >= 0) {
        if (s->len)
            log_line(run, s->level, s->buf, s->len);
        close(s->fd);
        s->fd = -1;
    }
}

/* Passes the child's output on (and records it) until both pipes closed, or the child exited
 * and what it wrote is read. Returns the child's wait status (0 when it could not be read). */
static int supervise(wrap_t *w, runtrack_run_t *run)
{
    int status = 0, exited = 0;
    for (;;) {
        if (poll_once(w, run) != 0)
            break;
        if (!exited) {
            pid_t pid = waitpid(w->pid, &status, WNOHANG);
            if (pid == w->pid)
                exited = 1;
        }
        if (w->streams[0].fd < 0 && w->streams[1].fd < 0) {
            if (!exited && waitpid(w->pid, &status, 0) == w->pid)
                exited = 1;
            break;
        }
        if (exited) {
            for (int i = 0; i < 2; i++)
                drain_stream(&w->streams[i], run);
            break;
        }
    }
    return status;
}

/* Records run.finished from the child's wait status (completed for exit 0, else failed with
 * the exit code or signal); returns the exit code to pass on (128+N for signal N). It is the
 * wrapper's finish: the child may have finished the run itself (it has RUNTRACK_RUN_ID), and
 * then a failure seen here overrules what the child said (docs/decisions.md). */
static int finish_from_status(runtrack_run_t *run, const char *cmd, int status)
{
    char msg[128], details[128];
    runtrack_finish_opts_t fo = {0};
    runtrack_status_t st = RUNTRACK_COMPLETED;
    runtrack_exit_t how = {-1, 0};
    int code;
    if (WIFEXITED(status)) {
        code = WEXITSTATUS(status);
        how.exit_code = code;
        if (code != 0) {
            st = RUNTRACK_FAILED;
            snprintf(msg, sizeof msg, "%s exited with status %d", cmd, code);
            snprintf(details, sizeof details, "{\"exit_code\":%d}", code);
            fo.error_message = msg;
            fo.error_details_json = details;
        }
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        code = 128 + sig;
        how.signal = sig;
        st = RUNTRACK_FAILED;
        snprintf(msg, sizeof msg, "%s killed by signal %d (%s)", cmd, sig, signame(sig));
        snprintf(details, sizeof details, "{\"signal\":%d,\"signal_name\":\"%s\"}", sig,
                 signame(sig));
        fo.error_message = msg;
        fo.error_details_json = details;
    } else {
        code = EX_SOFTWARE_;
        st = RUNTRACK_FAILED;
        fo.error_message = "runtrack run: lost track of the child process";
    }
    runtrack_run_finish_wrapped(run, st, &fo, how.exit_code >= 0 || how.signal ? &how : NULL, NULL,
                                0);
    return code;
}

/* Records run.finished failed when the command could not even be started. */
static void finish_not_started(runtrack_run_t *run, const char *why)
{
    runtrack_run_finish_wrapped(run, RUNTRACK_FAILED,
                                &(runtrack_finish_opts_t){.error_message = why}, NULL, NULL, 0);
}

static void wrap_close(wrap_t *w)
{
    int fds[] = {w->outp[0], w->outp[1], w->errp[0], w->errp[1], w->sigp[0], w->sigp[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (w->streams) {
        for (int i = 0; i < 2; i++)
            if (w->streams[i].fd >= 0)
                close(w->streams[i].fd);
    }
    free(w->streams);
}

/* `runtrack run`: argv is the command after "--". Returns the exit code. */
static int run_wrapped(const cli_command_t *cmd, cli_opts_t *o, int argc, char **argv)
{
    (void)cmd;
    if (argc < 1) {
        cli_err("run: expected -- COMMAND [ARGS...] (see 'runtrack run --help')");
        return EX_USAGE_;
    }
    if (!o->job || !*o->job) {
        cli_err("run: --job NAME is required (or RUNTRACK_JOB)");
        return EX_USAGE_;
    }
    int code = 0;
    runtrack_t *rt = NULL;
    runtrack_run_t *run = cli_start_run(o, "run", &rt, &code);
    if (!run)
        return code;
    wrap_t w = {.outp = {-1, -1}, .errp = {-1, -1}, .sigp = {-1, -1}};
    if (wrap_setup(&w) != 0) {
        cli_err("run: cannot create pipes: %s", strerror(errno));
        finish_not_started(run, "runtrack run: cannot create pipes");
        code = EX_TEMPFAIL_;
        goto out;
    }
    setenv("RUNTRACK_RUN_ID", runtrack_run_id(run), 1);
    setenv("RUNTRACK_JOB", o->job, 1);
    setenv("RUNTRACK_KIND", o->kind ? o->kind : "scrape", 1);
    fflush(NULL);
    w.pid = fork();
    if (w.pid < 0) {
        cli_err("run: cannot fork: %s", strerror(errno));
        finish_not_started(run, "runtrack run: fork failed");
        code = EX_TEMPFAIL_;
        goto out;
    }
    if (w.pid == 0)
        exec_child(&w, argv);
    take_streams(&w);
    code = finish_from_status(run, argv[0], supervise(&w, run));
    cli_phase_forget(o, runtrack_run_id(run)); /* the child's `runtrack phase`, if any */
out:
    runtrack_run_destroy(run);
    /* The exit status is always the command's: a script that checks it must not take a
     * delivery problem (already reported on stderr, the events spooled) for its own failure. */
    if (cli_finish_client(o, rt) != EX_OK_)
        cli_err("run: the command's exit status %d is passed on all the same", code);
    g_sig_fd = -1;
    wrap_close(&w);
    return code;
}

int cli_cmd_run(const cli_command_t *cmd, int argc, char **argv)
{
    return cli_event_main(cmd, argc, argv, CLI_ARGS_COMMAND, run_wrapped);
}
