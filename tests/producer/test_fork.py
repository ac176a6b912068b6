#!/usr/bin/python3
"""The Python package (clients/python, runtrack) across fork: a child made by os.fork()
and workers of multiprocessing (start method "fork", a Process and a Pool) record through the
trackers they inherited and their own, then exit normally: nothing may hang (each child has a
deadline) and nothing may be lost (the events are read back by the caller, test_fork.sh).

usage: test_fork.py EXPECT_JSON_OUT   (RUNTRACK_LIB, RUNTRACK_BROKERS, RUNTRACK_TOPIC set)
"""
import json
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["RUNTRACK_SOURCE_DIR"], "clients", "python", "src"))
from runtrack import RunResultsTracker  # noqa: E402
from runtrack._native import client as _get_client  # noqa: E402

DEADLINE_S = 30
FORK_LINES = 5
PROC_LINES = 7

parent = RunResultsTracker("py_fork_parent", kind="scrape")


def wait_pid(pid, what):
    """Waits for a child up to DEADLINE_S; a hung one is killed and fails the test."""
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                sys.exit(f"FAIL {what}: exit code {code}")
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    sys.exit(f"FAIL {what}: still running after {DEADLINE_S} s (hung at exit?)")


def process_worker():
    # Into the inherited run; nothing flushes here: the shim's finalizer must, at exit.
    for i in range(PROC_LINES):
        parent.log(f"mp process line {i}", level="warning")


def pool_task(i):
    t = RunResultsTracker(f"py_fork_pool_{i}")
    t.initialize(i, i)
    run_id = t.run_id
    t.log(f"pool task {i}")
    t.finalize(i + 1, i + 1)
    if not t.write_results():
        raise RuntimeError("pool task: events not delivered")
    return run_id


def main():
    out = sys.argv[1]
    parent.initialize(10, 5)
    parent.phase("before fork")
    parent.log("parent before fork")
    parent_run = parent.run_id
    # Shared run: deliver what came before the fork first, so its events arrive in seq order.
    lib, client = _get_client()
    assert lib.runtrack_flush(client, 20000, None) == 0

    # os.fork(): the child logs into the parent's run, runs a tracker of its own and leaves
    # through sys.exit (atexit -> runtrack_destroy), which must neither hang nor lose the lines
    # logged after its write_results.
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 1
        try:
            child = RunResultsTracker("py_fork_child")
            child.initialize(1, 1)
            os.write(w, child.run_id.encode())
            child.log("os.fork child own run")
            child.finalize(2, 2)
            ok = child.write_results()
            for i in range(FORK_LINES):
                parent.log(f"os.fork child line {i}")
            code = 0 if ok else 1
        finally:
            os.close(w)
        sys.exit(code)
    os.close(w)
    child_run = os.read(r, 64).decode()
    os.close(r)
    wait_pid(pid, "os.fork child")

    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=process_worker)
    p.start()
    p.join(DEADLINE_S)
    if p.is_alive():
        p.kill()
        sys.exit("FAIL multiprocessing.Process: still running (hung at exit?)")
    if p.exitcode != 0:
        sys.exit(f"FAIL multiprocessing.Process: exit code {p.exitcode}")

    pool = ctx.Pool(2)
    res = pool.map_async(pool_task, range(3))
    pool_runs = res.get(DEADLINE_S)
    pool.close()
    pool.join()

    parent.log("parent after fork")
    parent.finalize(12, 6)
    if not parent.write_results():
        sys.exit("FAIL parent: events not delivered")
    expect = {"runs": {
        parent_run: {"lifecycle": ["run.started", "run.phase", "run.finished"],
                     "logs": 2 + FORK_LINES + PROC_LINES, "status": "completed",
                     "log_messages": ["os.fork child line 4", "mp process line 6",
                                      "parent after fork"]},
        child_run: {"lifecycle": ["run.started", "run.finished"], "logs": 1,
                    "status": "completed"},
    }}
    for i, rid in enumerate(pool_runs):
        expect["runs"][rid] = {"lifecycle": ["run.started", "run.finished"], "logs": 1,
                               "log_messages": [f"pool task {i}"], "status": "completed"}
    with open(out, "w") as f:
        json.dump(expect, f)
    print(f"fork: parent run {parent_run}, os.fork child run {child_run}, pool runs {pool_runs}")


if __name__ == "__main__":
    main()
