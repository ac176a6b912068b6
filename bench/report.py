#!/usr/bin/env python3
"""Helpers of bench/run.sh.

  report.py batches LOG...         "records seconds": consumer logs' 'batch committed' lines, from
                                   the first batch's start to the last commit (group join and the
                                   idle wait before exit are excluded)
  report.py wrk NAME FILE          "NAME_rps R" and "NAME_p99_ms P" from wrk --latency output
  report.py table RESULTS OUTDIR [RAWDIR]  the results table: printed, OUTDIR/results.md, plots
                                   (OUTDIR/throughput.png, OUTDIR/latency.png) with gnuplot; a
                                   plot whose data did not run is skipped with a note

RESULTS holds "key value" lines. A figure measured several times has one "key.rN value" line per
run N (bench/run.sh, section 2); the table shows the median with the min-max range, and ratios and
targets use the medians (a limit uses the fastest run instead). A plain "key value" line counts
as a single run, so results.txt files from before the repeats still load.
"""
import datetime
import glob
import os
import re
import statistics
import subprocess
import sys


def cmd_batches(logs):
    first = last = None
    recs = 0
    for path in logs:
        for line in open(path, errors="replace"):
            if 'msg="batch committed"' not in line:
                continue
            t = datetime.datetime.fromisoformat(re.search(r"ts=(\S+?)Z", line).group(1))
            ms = int(re.search(r" ms=(\d+)", line).group(1))
            recs += int(re.search(r"records=(\d+)", line).group(1))
            start = t - datetime.timedelta(milliseconds=ms)
            first = start if first is None or start < first else first
            last = t if last is None or t > last else last
    secs = (last - first).total_seconds() if first else 0.0
    print("%d %.3f" % (recs, max(secs, 0.001)))


def cmd_wrk(name, path):
    text = open(path, errors="replace").read()
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    print("%s_rps %s" % (name, m.group(1) if m else "nan"))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\b", text, re.M)
    if m:
        v = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        print("%s_p99_ms %.2f" % (name, v))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    print("%s_non2xx %s" % (name, m.group(1) if m else "0"))


def load(path):
    r = {}
    for line in open(path):
        parts = line.split(None, 1)
        if len(parts) == 2:
            r[parts[0]] = parts[1].strip()
    return r


def cmd_table(res_path, out, rawdir=None):
    R = load(res_path)

    def f(k):
        try:
            v = float(R[k])
            return v if v == v else None
        except (KeyError, ValueError):
            return None

    def div(a, b):
        return a / b if a is not None and b not in (None, 0) else None

    def runs(k):
        """{N: value} of the "k.rN" lines, or {0: value} of a plain "k" line."""
        out = {}
        for key, v in R.items():
            m = re.fullmatch(re.escape(k) + r"\.r(\d+)", key)
            if m:
                try:
                    fv = float(v)
                except ValueError:
                    continue
                if fv == fv:
                    out[int(m.group(1))] = fv
        if not out and f(k) is not None:
            out[0] = f(k)
        return out

    def per_run(fn, *keys):
        """fn(k1's value, k2's value, ...) for each run that has every key; Nones dropped."""
        got = [runs(k) for k in keys]
        common = sorted(set.intersection(*(set(g) for g in got)))
        vals = (fn(*(g[n] for g in got)) for n in common)
        return [v for v in vals if v is not None]

    def median(vals):
        return statistics.median(vals) if vals else None

    def rate(v, unit="/s"):
        if v is None:
            return "n/a"
        if v >= 1e6:
            return "%.2fM%s" % (v / 1e6, unit)
        if v >= 1e3:
            return "%.1fk%s" % (v / 1e3, unit)
        return "%.0f%s" % (v, unit)

    def spread(vals, best=False):
        """The median rate of vals (the highest when best), with the range when several runs."""
        v = (max(vals) if best else median(vals)) if vals else None
        if len(vals) < 2:
            return rate(v)
        return "%s (%s of %d: %s-%s)" % (rate(v), "fastest" if best else "median", len(vals),
                                         rate(min(vals), ""), rate(max(vals), ""))

    def med(vals):
        """A median figure shown again in another row: its value, without the range."""
        v = median(vals)
        return rate(v) + (" (median)" if len(vals) > 1 else "")

    def count(vals):
        """Events or rows of a figure's runs: one number, or the range when the runs disagree."""
        vals = sorted(set(int(v) for v in vals))
        if not vals:
            return "?"
        if len(vals) == 1:
            return "{:,}".format(vals[0])
        return "{:,}-{:,}".format(vals[0], vals[-1])

    def ns(v):
        return "" if not v else " (%.0f ns)" % (1e9 / v)

    def x(v):
        return "n/a" if v is None else "%.2fx" % v

    def ms(v):
        return "n/a" if v is None else "%.1f ms" % v

    def mib(kib):
        return "n/a" if kib is None else "%.1f MiB" % (kib / 1024)

    def met(ok):
        return "n/a" if ok is None else ("yes" if ok else "**no**")

    rows = []  # (section, figure, runtrack, baseline, ratio, target, met)

    # 1 producer
    for key, label, tgt in (("progress", "runtrack_run_progress", True),
                            ("log", "runtrack_run_log (burst)", True),
                            ("logf", "runtrack_run_logf (burst)", False)):
        for t in (1, 2):
            v, raw = f("prod_%s_t%d" % (key, t)), f("prod_raw_t%d" % t)
            ratio = div(v, raw)
            ok = None
            if tgt and v is not None and ratio is not None:
                ok = ratio >= 0.8 and (t == 2 or v >= 1e6)
            rows.append(("1 producer", "%s, %d thread%s, calls/s" % (label, t, "s" if t > 1 else ""),
                         rate(v) + ns(v if t == 1 else div(v, t)),
                         "raw rd_kafka_producev " + rate(raw), x(ratio),
                         (">= 1M/s, >= 0.8x raw" if t == 1 else ">= 0.8x raw") if tgt else "-",
                         met(ok)))
    for key, label in (("log", "runtrack_run_log"), ("logf", "runtrack_run_logf")):
        v, raw = f("prod_%s_steady" % key), f("prod_raw_steady")
        ratio = div(v, raw)
        rows.append(("1 producer", "%s, 1 thread, steady (1,000-call chunks drained)" % label,
                     rate(v) + ns(v), "raw rd_kafka_producev " + rate(raw), x(ratio),
                     ">= 1M/s, >= 0.8x raw" if key == "log" else "-",
                     met(None if v is None or ratio is None or key != "log"
                         else v >= 1e6 and ratio >= 0.8)))

    # 2 consumer end to end; each figure the median of its runs (runs(), per_run())
    evs = list(runs("fleet_events").values())
    e2es = per_run(div, "fleet_events", "fleet_seconds")
    e2e = median(e2es)
    seedss = per_run(lambda v: v, "seeds_events_per_s")
    seeds = median(seedss)
    ratio = div(e2e, seeds)
    rows.append(("2 consumer", "end to end, %s events of 2,000 runs, events/s" % count(evs),
                 spread(e2es), "seeds' autocommit pattern " + spread(seedss), x(ratio),
                 ">= 100k/s, >= 30x", met(None if e2e is None or ratio is None
                                          else e2e >= 1e5 and ratio >= 30)))
    kreads = per_run(div, "fleet_kafka_only_events", "fleet_kafka_only_seconds")
    kread = max(kreads) if kreads else None
    rows.append(("2 consumer", "end to end as a share of librdkafka (kcat, default fetch "
                 "settings) reading the topic alone, discarding", med(e2es),
                 "Kafka-read limit " + spread(kreads, best=True), x(div(e2e, kread)), "-",
                 "n/a"))
    rows.append(("2 consumer", "end to end, rows written/s (runs, run_logs, run_results, "
                 "discovery_runs)", spread(per_run(div, "fleet_rows", "fleet_seconds")), "-", "-",
                 "-", "n/a"))
    # COPY loads the rows of the last consumer run (copy_*_rows; older results: the fleet's).
    clr = f("copy_log_rows") or median(list(runs("fleet_log_rows").values()))
    crr = f("copy_run_rows") or median(list(runs("fleet_run_rows").values()))
    log_ings = per_run(div, "fleet_log_rows", "fleet_seconds")
    log_copys = per_run(lambda s: div(clr, s), "copy_log_seconds")
    rows.append(("2 consumer", "log rows/s in the fleet mix (consumer's whole time, all "
                 "tables)", spread(log_ings), "COPY run_logs " + spread(log_copys),
                 x(div(median(log_ings), median(log_copys))), "-", "n/a"))
    # Log-row ingest proper: a stream of log lines (bench/gen_fleet.py MIX logs), end to end,
    # next to PostgreSQL's COPY of the very rows that run wrote into an empty run_logs.
    olr = list(runs("logs_only_log_rows").values())
    ocr = f("copy_logs_only_rows") or median(olr)
    oings = per_run(div, "logs_only_log_rows", "logs_only_seconds")
    ocps = per_run(lambda s: div(ocr, s), "copy_logs_only_seconds")
    ratio = div(median(oings), median(ocps))
    rows.append(("2 consumer", "log-row ingest: a stream of %s log lines, end to end, log rows/s"
                 % count(olr), spread(oings), "COPY run_logs of the same rows " + spread(ocps),
                 x(ratio), ">= 0.5x COPY", met(None if ratio is None else ratio >= 0.5)))
    boths = per_run(lambda lr, rr, s: div(lr + rr, s), "fleet_log_rows", "fleet_run_rows",
                    "fleet_seconds")
    bcopys = per_run(lambda cl, cr: div((clr or 0) + (crr or 0), cl + cr),
                     "copy_log_seconds", "copy_run_seconds")
    rows.append(("2 consumer", "log + run rows/s", spread(boths),
                 "COPY run_logs + runs " + spread(bcopys),
                 x(div(median(boths), median(bcopys))), "-", "n/a"))
    ll = div(median(evs), f("fleet_ll_seconds"))
    rows.append(("2 consumer", "end to end with batch_max_events=1000, batch_max_ms=20 (1 run)",
                 rate(ll), "defaults (10000, 100 ms) " + med(e2es), x(div(ll, e2e)),
                 "-", "n/a"))
    # The same fleet topic and seeds file against a second server with PostgreSQL's default
    # durability (fsync on): information next to the targets above, which stay on fsync=off.
    durs = per_run(div, "durable_fleet_events", "durable_fleet_seconds")
    dur = median(durs)
    dseedss = per_run(lambda v: v, "durable_seeds_events_per_s")
    rows.append(("2 consumer", "end to end on a durable server (PostgreSQL defaults: fsync %s), "
                 "events/s" % R.get("durable_fsync", "on"), spread(durs),
                 "seeds' autocommit pattern on the same durable server " + spread(dseedss),
                 x(div(dur, median(dseedss))), "-", "n/a"))
    rows.append(("2 consumer", "end to end on the durable server next to the fsync=off server "
                 "(what the WAL flushes cost the consumer)", med(durs),
                 "end to end, fsync=off server " + med(e2es), x(div(dur, e2e)), "-",
                 "n/a"))

    # 3 freshness
    for name, label in (("fresh_default", "defaults (linger 5 ms, batch_max_ms 100)"),
                        ("fresh_linger50", "producer linger.ms=50"),
                        ("fresh_batch20", "consumer batch_max_ms=20"),
                        ("fresh_batch500", "consumer batch_max_ms=500"),
                        ("fresh_fetch20", "consumer fetch.wait.max.ms=20")):
        p50, p99 = f(name + "_p50_ms"), f(name + "_p99_ms")
        base = f("fresh_default_p99_ms")
        rows.append(("3 freshness", "2,000 ev/s, progress return -> row visible, %s: p50 / p99"
                     % label, "%s / %s" % (ms(p50), ms(p99)),
                     "-" if name == "fresh_default" else "defaults p99 " + ms(base),
                     "-" if name == "fresh_default" else x(div(p99, base)),
                     "p99 <= 300 ms" if name == "fresh_default" else "-",
                     met(None if p99 is None or name != "fresh_default" else p99 <= 300)))

    # 4 replay
    rev, rsec = f("replay_events"), f("replay_seconds")
    live = div(f("live_events"), f("live_seconds"))
    rp = div(rev, rsec)
    rows.append(("4 replay", "replay of %s events (64 partitions) into an empty DB, events/s"
                 % ("{:,}".format(int(rev)) if rev else "?"),
                 "%s (%.1f s; wall %.1f s)" % (rate(rp), rsec or 0, f("replay_wall_seconds") or 0),
                 "live group consumption " + rate(live) + " (%.1f s)" % (f("live_seconds") or 0),
                 x(div(rp, live)), "all events kept, tables = live",
                 met(None if rev is None else rev >= (f("replay_produced") or 0) and
                     R.get("replay_equals_live") == "1")))

    # 5 memory
    rsss = list(runs("fleet_rss_kib").values())
    rss = max(rsss) if rsss else None
    rows.append(("5 memory", "consumer peak RSS during (2)%s"
                 % (" (highest of %d runs)" % len(rsss) if len(rsss) > 1 else ""), mib(rss), "limit 64 MiB",
                 x(div(rss, 65536)), "<= 64 MiB", met(None if rss is None else rss <= 65536)))
    rss = f("replay_rss_kib")
    rows.append(("5 memory", "consumer peak RSS during the replay (4)", mib(rss), "limit 64 MiB",
                 x(div(rss, 65536)), "<= 64 MiB", met(None if rss is None else rss <= 65536)))
    for name, qmax in (("queue_all", 100000), ("queue_default", 50000), ("queue_10k", 10000)):
        before, after = f(name + "_rss_before_kib"), f(name + "_rss_after_kib")
        rec, drop = f(name + "_recorded"), f(name + "_dropped")
        # recorded counts accepted events only (the run.started too); dropped ones are apart
        queued = None if rec is None else rec - (f(name + "_delivered") or 0)
        grow = None if after is None else after - before
        per = div(grow * 1024 if grow is not None else None, queued)
        ok = None if queued is None else queued <= qmax + 10
        rows.append(("5 memory", "producer, 100,000 log lines while brokers are down, "
                     "log.queue.max=%s" % "{:,}".format(qmax),
                     "RSS %s (+%s, %s queued, %s dropped, %s B/event)"
                     % (mib(after), mib(grow), "{:,}".format(int(queued)) if queued is not None
                        else "?", "{:,}".format(int(drop)) if drop is not None else "?",
                        "%.0f" % per if per else "?"),
                     "RSS before %s" % mib(before), x(div(after, before)),
                     "bounded by log.queue.max", met(ok)))

    # 6 scale
    base = div(f("scale_1_1_events"), f("scale_1_1_seconds"))
    for p in (1, 2, 4):
        for c in (1, 2):
            evs = f("scale_%d_%d_events" % (p, c))
            v = div(evs, f("scale_%d_%d_seconds" % (p, c)))
            # A 1-partition topic keeps only ~5 MiB on the dev broker: fewer events are there.
            rows.append(("6 scale", "%d partition%s, %d consumer%s, events/s"
                         % (p, "s" if p > 1 else "", c, "s" if c > 1 else ""),
                         rate(v) + (" (%s events)" % "{:,}".format(int(evs)) if evs else ""),
                         "1 partition, 1 consumer " + rate(base), x(div(v, base)), "-", "n/a"))
    sizes = sorted(int(k[5:-7]) for k in R if re.fullmatch(r"size_\d+_events", k))
    pts = [(n, f("size_%d_seconds" % n)) for n in sizes]
    if rev and f("live_seconds"):
        pts.append((int(f("live_events")), f("live_seconds")))
    pts = [p for p in pts if p[1]]
    if len(pts) >= 2:
        (n0, s0), (n1, s1) = pts[0], pts[-1]
        lin = div(s1 / n1, s0 / n0)
        rows.append(("6 scale", "time for %s vs %s events (64 partitions, live)"
                     % ("{:,}".format(n1), "{:,}".format(n0)),
                     "%.1f s vs %.1f s (%s)" % (s1, s0, " ".join("%dk:%.1fs" % (n / 1000, s)
                                                                for n, s in pts)),
                     "linear: %.1f s" % (s0 * n1 / n0), x(lin), "linear (<= 1.5x)",
                     met(None if lin is None else lin <= 1.5)))

    # 7 API
    for ep, path, how in (("runs", "/api/runs", ""),
                          ("health", "/api/health", " (1 s report cache, the default)"),
                          ("health_nocache", "/api/health", " (cache off)"),
                          ("jobs", "/api/jobs", " (1 s report cache, the default)"),
                          ("jobs_nocache", "/api/jobs", " (cache off)")):
        v, p99 = f("api_%s_rps" % ep), f("api_%s_p99_ms" % ep)
        fl, flp = f("api_floor_rps"), f("api_floor_p99_ms")
        if v is None and ep != "runs" and ep != "health":
            continue
        rows.append(("7 API", "GET %s%s over %s runs / %s log rows, wrk -c16: req/s, p99"
                     % (path, how, "{:,}".format(int(f("api_runs") or 0)),
                        "{:,}".format(int(f("api_logs") or 0))),
                     "%s, p99 %s%s" % (rate(v), ms(p99), "" if R.get("api_%s_non2xx" % ep, "0")
                                       == "0" else " (%s non-2xx!)" % R["api_%s_non2xx" % ep]),
                     "404 floor of the same server %s, p99 %s" % (rate(fl), ms(flp)),
                     x(div(v, fl)), "p99 <= 100 ms (ours)" if ep in ("runs", "health") else "-",
                     met(None if p99 is None or ep not in ("runs", "health") else p99 <= 100 and
                         R.get("api_%s_non2xx" % ep, "0") == "0")))

    head = ("figure", "runtrack", "baseline or limit (same run)", "ratio", "target", "met?")
    lines = ["# runtrack benchmark results", "",
             "Generated by `make bench` (bench/run.sh%s) on %s: %s cores (%s), shared with the "
             "dev broker and PostgreSQL. Ratios compare figures measured in the same run."
             % (", BENCH_QUICK=1" if R.get("quick") == "1" else "", R.get("date", "?"),
                R.get("cores", "?"), R.get("cpu", "?").replace("_", " ")), "",
             "Section 2 measures each figure several times (fresh database, new consumer group "
             "each run) and shows the median with the range; ratios and met? use the medians, "
             "the Kafka-read limit the fastest run. Its PostgreSQL runs with fsync=off "
             "(deploy/pg.sh; SHOW fsync: %s); the durable-server rows use a second server with "
             "PostgreSQL's default durability (SHOW fsync: %s, full_page_writes: %s)."
             % (R.get("pg_fsync", "?"), R.get("durable_fsync", "?"),
                R.get("durable_full_page_writes", "?")), "",
             "| # | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(r) + " |")
    lines += ["", "Plots: `throughput.png` (consumer events/s and time vs events), "
              "`latency.png` (freshness latency distribution per setting).", ""]
    md = "\n".join(lines)
    open(os.path.join(out, "results.md"), "w").write(md)
    print(md)
    plots(R, out, pts, rawdir or out)


def plots(R, out, pts, rawdir):
    """The plots whose data this run has; each missing one is skipped with a note on stderr
    (gnuplot fails on an empty data file: 'x range is invalid')."""
    dat = os.path.join(out, "throughput.dat")
    if pts:
        with open(dat, "w") as fh:
            fh.write("# events seconds events_per_s\n")
            for n, s in sorted(pts):
                fh.write("%d %.3f %.0f\n" % (n, s, n / s))
    else:
        print("report.py: no size-scale figures (section replay did not run): throughput.png "
              "not drawn", file=sys.stderr)
    cdfs = []
    for path in sorted(glob.glob(os.path.join(rawdir, "latency_fresh_*.txt"))):
        vals = sorted(float(v) for v in open(path) if v.strip())
        if not vals:
            continue
        cdf = os.path.join(out, os.path.basename(path)[:-4] + ".cdf")
        with open(cdf, "w") as fh:
            step = max(1, len(vals) // 500)
            for i in range(0, len(vals), step):
                fh.write("%.3f %.4f\n" % (vals[i], (i + 1) / len(vals)))
            fh.write("%.3f 1.0\n" % vals[-1])
        cdfs.append((cdf, os.path.basename(path)[8:-4]))
    g = ["set terminal pngcairo size 900,560"]
    if pts:
        g += ["set output '%s'" % os.path.join(out, "throughput.png"),
              "set title 'runtrack-consumer: live consumption, 64 partitions, 2,000 runs'",
              "set xlabel 'events in the topic'", "set ylabel 'events/s'",
              "set y2label 'seconds'", "set y2tics", "set ytics nomirror", "set yrange [0:*]",
              "set y2range [0:*]", "set xrange [0:*]", "set key left top", "set grid",
              "plot '%s' using 1:3 with linespoints title 'events/s', '' using 1:2 axes x1y2 "
              "with linespoints title 'seconds'" % dat]
    if not cdfs:
        print("report.py: no freshness latencies (section fresh did not run): latency.png not "
              "drawn", file=sys.stderr)
    else:
        g += ["set output '%s'" % os.path.join(out, "latency.png"),
              "unset y2tics", "unset y2label", "set ytics mirror", "set yrange [0:1]",
              "set xrange [0:*]", "set key right bottom",
              "set title 'freshness at 2,000 events/s: progress call return -> row visible'",
              "set xlabel 'latency (ms)'", "set ylabel 'fraction of calls'",
              "plot " + ", ".join("'%s' using 1:2 with lines lw 2 title '%s'"
                                  % (c, n.replace("_", " ")) for c, n in cdfs)]
    if len(g) == 1:
        return
    try:
        subprocess.run(["gnuplot"], input="\n".join(g) + "\n", text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("report.py: gnuplot failed: %s" % e, file=sys.stderr)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "batches" and len(sys.argv) > 2:
        cmd_batches(sys.argv[2:])
    elif cmd == "wrk" and len(sys.argv) == 4:
        cmd_wrk(sys.argv[2], sys.argv[3])
    elif cmd == "table" and len(sys.argv) in (4, 5):
        cmd_table(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) == 5 else None)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


main()
