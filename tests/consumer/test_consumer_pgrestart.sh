#!/usr/bin/env bash
# PostgreSQL stopped and restarted under load (a private server from deploy/pg.sh): the
# consumer keeps its place, retries with back-off, reconnects and resumes; nothing is lost or
# applied twice (stored offsets = records, checksum = a clean pass).
set -euo pipefail
. "$RUNTRACK_SOURCE_DIR/tests/lib/common.sh"
. "$RUNTRACK_SOURCE_DIR/tests/consumer/lib.sh"
rt_tmpdir T
GEN="$RUNTRACK_SOURCE_DIR/tests/consumer/gen_events.py"

PGDIR="$T/pg"
"$RUNTRACK_SOURCE_DIR/deploy/pg.sh" start "$PGDIR" >/dev/null || rt_die "private PostgreSQL did not start"
rt_on_exit "'$RUNTRACK_SOURCE_DIR/deploy/pg.sh' stop '$PGDIR' >/dev/null 2>&1"
# shellcheck disable=SC1091
. "$PGDIR/pg.env"
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

ct_new_topic TOPIC pgr 8
export RUNTRACK_TOPIC=$TOPIC
python3 "$GEN" fleet --runs 600 --events-per-run 100 --seed 9 >"$T/ev.txt" 2>/dev/null
total=$(wc -l <"$T/ev.txt")
ct_produce_bulk "$T/ev.txt"

pid=
rt_on_exit '[ -n "$pid" ] && kill -9 $pid 2>/dev/null'
RUNTRACK_BATCH_MAX_EVENTS=300 RUNTRACK_RETRY_MAX_MS=500 "$CT_BIN" --exit-when-idle 3000 2>"$T/c.log" &
pid=$!
rt_wait_for "[ \$(ct_offsets_sum) -gt 0 ]" 60 || rt_die "consumer applied nothing"
as_pg "$BIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null || rt_die "could not stop PostgreSQL"
at_stop=$(grep -c "batch committed" "$T/c.log" || true)
sleep 3
as_pg "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/postgres.log" -w -t 60 -o "-p $PGPORT" start >/dev/null ||
    rt_die "could not restart PostgreSQL"
wait "$pid" || rt_die "consumer failed: $(tail -5 "$T/c.log")"
pid=
grep -q "postgresql failed, retrying" "$T/c.log" || rt_die "the consumer never saw PostgreSQL down"
grep -q "postgresql reconnected" "$T/c.log" || rt_die "the consumer never reconnected"
echo "batches before the stop: $at_stop, total: $(grep -c 'batch committed' "$T/c.log")"
ct_assert_offsets "$total"

ct_assert_clean_pass "$T" "tables after a PostgreSQL restart differ from a clean pass"
echo "pgrestart: ok"
