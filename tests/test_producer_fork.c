/* fork() with a live client, against the dev broker (RUNTRACK_BROKERS, RUNTRACK_TOPIC; run by
 * tests/producer/run_and_check.sh, which reads the topic back with kcat and checks it):
 *   1. a child records into a run it inherited and into a run of its own, finishes its run and
 *      destroys the client: every call returns OK, runtrack_destroy returns OK with nothing
 *      undelivered, and the child exits in time (it runs under alarm(), so a hang fails the test
 *      instead of hanging ctest). Its events all arrive (the reader counts them per run).
 *   2. while the child is forked, a parent thread keeps logging into a third run: the child
 *      must neither hang on a lock held at the fork nor re-send the parent's queued events
 *      (the reader checks that run's exact line count and strictly increasing seq).
 *   3. a child that records nothing: runtrack_destroy returns at once (under 1 s).
 *   4. the parent is unaffected: its later events and runs arrive too.
 * usage: test_producer_fork EXPECT_JSON_OUT */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "producer_test.h"
#include "rt_time.h"
#include "runtrack.h"

#define CHILD_LINES  10
#define CHILD_B_LOGS 3
#define CHILD_BOUND  30 /* seconds a child may take, whatever happens */

/* No heartbeats: the parent's would interleave with the child's events in the shared run and
 * break the reader's per-run seq order check, which is about the events under test. */
static const char *const no_heartbeats[] = {"heartbeat.interval.ms", "0", NULL};

/* The parent's busy thread: logs into run c until told to stop. */
static runtrack_run_t *g_busy_run;
static atomic_int g_busy_stop;
static atomic_long g_busy_lines;

static void *busy(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_busy_stop)) {
        long n = atomic_load(&g_busy_lines);
        if (runtrack_run_logf(g_busy_run, RUNTRACK_INFO, "busy %ld", n) != RUNTRACK_OK) {
            fprintf(stderr, "FAIL busy log %ld\n", n);
            g_fail = 1;
            break;
        }
        atomic_store(&g_busy_lines, n + 1);
        if (n % 50 == 49)
            sleep_ms(1);
    }
    return NULL;
}

/* Child of part 1: records, destroys, reports its run id on fd, exits 0 only if all went well.
 * _exit: the child must not run the parent's atexit handlers or stdio flushes twice. */
static void child_records(runtrack_t *rt, runtrack_run_t *a, int fd)
{
    g_fail = 0; /* the parent's verdict so far is not the child's */
    alarm(CHILD_BOUND);
    char err[512];
    for (int i = 0; i < CHILD_LINES; i++)
        EXPECT(runtrack_run_logf(a, RUNTRACK_WARNING, "child line %d", i) == RUNTRACK_OK);
    runtrack_counter_t c = {"sites_completed", 3};
    EXPECT(runtrack_run_progress(a, &c, 1, RUNTRACK_PERCENT_UNSET, RUNTRACK_PERCENT_UNSET, err,
                                 sizeof err) == RUNTRACK_OK);
    runtrack_run_t *b = runtrack_run_start(rt, "fork_child", NULL, err, sizeof err);
    EXPECT(b != NULL);
    if (b) {
        EXPECT(runtrack_run_phase(b, "child work", err, sizeof err) == RUNTRACK_OK);
        for (int i = 0; i < CHILD_B_LOGS; i++)
            EXPECT(runtrack_run_logf(b, RUNTRACK_INFO, "child run line %d", i) == RUNTRACK_OK);
        EXPECT(runtrack_run_finish(b, RUNTRACK_COMPLETED, NULL, err, sizeof err) == RUNTRACK_OK);
        char id[40];
        snprintf(id, sizeof id, "%s", runtrack_run_id(b));
        if (write(fd, id, 36) != 36)
            g_fail = 1;
        runtrack_run_destroy(b);
    }
    runtrack_stats_t st;
    runtrack_stats(rt, &st);
    EXPECT(st.recreations == 0);
    uint64_t left = 99;
    int64_t t0 = rt_mono_us();
    EXPECT(runtrack_destroy(rt, 20000, &left) == RUNTRACK_OK);
    EXPECT(left == 0);
    fprintf(stderr, "child %ld: destroy took %lld ms\n", (long)getpid(),
            (long long)(rt_mono_us() - t0) / 1000);
    _exit(g_fail ? 1 : 0);
}

/* Child of part 3: records nothing; destroy must not wait for anything. */
static void child_idle(runtrack_t *rt)
{
    g_fail = 0; /* the parent's verdict so far is not the child's */
    alarm(CHILD_BOUND);
    uint64_t left = 99;
    int64_t t0 = rt_mono_us();
    EXPECT(runtrack_destroy(rt, 20000, &left) == RUNTRACK_OK);
    EXPECT(left == 0);
    EXPECT(rt_mono_us() - t0 < 1000000);
    _exit(g_fail ? 1 : 0);
}

/* Waits for pid up to CHILD_BOUND + 5 s (the alarm should end a hung child first). Returns 1
 * when it exited with status 0. */
static int wait_child(pid_t pid, const char *what)
{
    int status = 0;
    for (int i = 0; i < (CHILD_BOUND + 5) * 10; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 1;
            fprintf(stderr, "FAIL %s: child %s %d\n", what,
                    WIFSIGNALED(status) ? "killed by signal" : "exited",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            return 0;
        }
        sleep_ms(100);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fprintf(stderr, "FAIL %s: child still running after %d s\n", what, CHILD_BOUND + 5);
    return 0;
}

int main(int argc, char **argv)
{
    FILE *out = rt_test_expect_out(argc, argv);
    char err[512];
    uint64_t left = 0;
    runtrack_t *rt = rt_test_client(rt_test_conf(1, no_heartbeats));
    runtrack_run_t *a = runtrack_run_start(rt, "fork_parent", NULL, err, sizeof err);
    g_busy_run = runtrack_run_start(rt, "fork_busy", NULL, err, sizeof err);
    if (!a || !g_busy_run) {
        fprintf(stderr, "run_start: %s\n", err);
        return 1;
    }
    EXPECT(runtrack_run_phase(a, "before fork", NULL, 0) == RUNTRACK_OK);
    for (int i = 0; i < 5; i++)
        EXPECT(runtrack_run_logf(a, RUNTRACK_INFO, "parent before %d", i) == RUNTRACK_OK);
    /* Run a is shared with the child: everything before the fork is delivered first, so that
     * the run's events reach the topic in seq order (the reader checks it). */
    EXPECT(runtrack_flush(rt, 20000, &left) == RUNTRACK_OK);
    pthread_t th;
    if (pthread_create(&th, NULL, busy, NULL) != 0)
        return 1;
    sleep_ms(50); /* the busy thread's lines are queued and in flight at the fork */

    /* ---- 1 + 2 */
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        close(fds[0]);
        child_records(rt, a, fds[1]);
    }
    close(fds[1]);
    char child_run[37] = {0};
    ssize_t n = read(fds[0], child_run, 36);
    close(fds[0]);
    EXPECT(wait_child(pid, "recording child"));
    EXPECT(n == 36);
    atomic_store(&g_busy_stop, 1);
    pthread_join(th, NULL);

    /* ---- 3 */
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0)
        child_idle(rt);
    EXPECT(wait_child(pid, "idle child"));

    /* ---- 4 */
    for (int i = 0; i < 3; i++)
        EXPECT(runtrack_run_logf(a, RUNTRACK_INFO, "parent after %d", i) == RUNTRACK_OK);
    EXPECT(runtrack_run_finish(a, RUNTRACK_COMPLETED, NULL, err, sizeof err) == RUNTRACK_OK);
    EXPECT(runtrack_run_finish(g_busy_run, RUNTRACK_COMPLETED, NULL, err, sizeof err) ==
           RUNTRACK_OK);
    EXPECT(runtrack_flush(rt, 20000, &left) == RUNTRACK_OK);
    runtrack_stats_t st;
    runtrack_stats(rt, &st);
    EXPECT(st.failed == 0);
    long busy_lines = atomic_load(&g_busy_lines);
    printf("fork: child run %s, %ld busy lines, parent delivered %llu of %llu\n", child_run,
           busy_lines, (unsigned long long)st.delivered, (unsigned long long)st.recorded);
    fprintf(out,
            "{\"runs\": {\"%s\": {\"lifecycle\": [\"run.started\", \"run.phase\", "
            "\"run.finished\"], \"logs\": %d, \"log_messages\": [\"parent before 0\", "
            "\"child line 0\", \"child line %d\", \"parent after 2\"], \"status\": \"completed\"}, "
            "\"%s\": {\"lifecycle\": [\"run.started\", \"run.finished\"], \"logs\": %ld}",
            runtrack_run_id(a), 5 + CHILD_LINES + 3, CHILD_LINES - 1, runtrack_run_id(g_busy_run),
            busy_lines);
    if (n == 36)
        fprintf(out,
                ", \"%s\": {\"lifecycle\": [\"run.started\", \"run.phase\", \"run.finished\"], "
                "\"logs\": %d, \"status\": \"completed\"}",
                child_run, CHILD_B_LOGS);
    fprintf(out, "}}\n");
    fclose(out);
    runtrack_run_destroy(a);
    runtrack_run_destroy(g_busy_run);
    EXPECT(runtrack_destroy(rt, 10000, &left) == RUNTRACK_OK);
    return g_fail;
}
