#!/usr/bin/env bash
# deploy.compose: docker-compose.yml passes Debian's `docker-compose config` (no Docker engine
# needed) and keeps its promises: KRaft Kafka, PostgreSQL 15, the consumer gated on healthy
# services, the fleet only under profile demo, named volumes. Also checks the systemd unit with
# systemd-analyze when it is installed.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$SRC/tests/lib/common.sh"
cd "$SRC"
command -v docker-compose >/dev/null || rt_die "docker-compose missing (deploy/install-deps.sh installs it)"
cfg=$(docker-compose -f docker-compose.yml config) || rt_die "docker-compose config failed"
printf '%s\n' "$cfg" | /usr/bin/python3 -c '
import sys, yaml
c = yaml.safe_load(sys.stdin)
s = c["services"]
def need(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
need(sorted(s) == ["consumer", "fleet", "kafka", "kafka-init", "postgres"], "services: %s" % sorted(s))
need(s["fleet"].get("profiles") == ["demo"], "fleet only in profile demo")
need(all("profiles" not in s[n] for n in s if n != "fleet"), "core services in no profile")
need(s["kafka"]["image"].startswith("apache/kafka:"), "official apache/kafka image")
env = s["kafka"]["environment"]
need(env.get("KAFKA_PROCESS_ROLES") == "broker,controller" and "KAFKA_CONTROLLER_QUORUM_VOTERS" in env
     and "CLUSTER_ID" in env, "KRaft settings")
need(s["postgres"]["image"] == "postgres:15", "PostgreSQL 15")
dep = s["consumer"]["depends_on"]
need(dep["postgres"]["condition"] == "service_healthy", "consumer waits for healthy postgres")
need(dep["kafka-init"]["condition"] == "service_completed_successfully", "consumer waits for the topic")
need(s["kafka-init"]["depends_on"]["kafka"]["condition"] == "service_healthy", "topic waits for kafka")
need(s["fleet"]["depends_on"]["consumer"]["condition"] == "service_healthy", "fleet waits for consumer")
for name in ("kafka", "postgres", "consumer"):
    need("healthcheck" in s[name], name + " healthcheck")
need(set(c["volumes"]) >= {"kafka-data", "pg-data"}, "named volumes")
cenv = s["consumer"]["environment"]
need(cenv["RUNTRACK_BROKERS"] == "kafka:9092" and cenv["RUNTRACK_PG_DSN"].startswith("postgresql://"),
     "consumer configured by environment")
need(s["consumer"]["build"]["dockerfile"] == "deploy/Dockerfile", "consumer built from deploy/Dockerfile")
need(cenv.get("RUNTRACK_AUTH") == "required" and cenv.get("RUNTRACK_AUTH_SECRET_FILE", "").startswith("/var/lib/runtrack/")
     and any("runtrack-secret:/var/lib/runtrack" in str(v) for v in s["consumer"].get("volumes", []))
     and "runtrack-secret" in c["volumes"],
     "consumer requires API keys, its server secret in a volume")
need(s["fleet"]["build"]["dockerfile"] == "deploy/Dockerfile.cli", "fleet built from deploy/Dockerfile.cli")
print("compose structure ok")
'
# The files the Dockerfiles copy exist (and the scripts are executable).
for f in deploy/docker-entrypoint.sh deploy/healthcheck.sh examples/shell_scraper.sh \
    examples/fleet/multisite.sh examples/fleet/export_job.sh examples/fleet/crashing_scraper.sh; do
    [ -x "$f" ] || rt_die "$f not executable"
done
for df in deploy/Dockerfile deploy/Dockerfile.cli; do
    for src in $(sed -n 's/^COPY \(deploy\/[^ ]*\|examples\/[^ ]*\) .*/\1/p' "$df"); do
        [ -e "$src" ] || rt_die "$df copies $src, which does not exist"
    done
    grep -q '^USER runtrack$' "$df" || rt_die "$df does not drop root"
done
grep -q '^ *RUNTRACK_AUTH=required' deploy/Dockerfile || rt_die "deploy/Dockerfile does not require API keys"
sh -n deploy/docker-entrypoint.sh && bash -n deploy/healthcheck.sh
if command -v systemd-analyze >/dev/null; then
    rt_tmpdir T
    bin=${RUNTRACK_BUILD_DIR:-$SRC/build}/consumer/runtrack-consumer
    sed "s#/usr/local/bin/runtrack-consumer#$bin#g" deploy/runtrack-consumer.service >"$T/runtrack-consumer.service"
    out=$(systemd-analyze verify "$T/runtrack-consumer.service" 2>&1 || true)
    if [ -n "$out" ]; then
        printf '%s\n' "$out" >&2
        rt_die "systemd-analyze verify complained"
    fi
    echo "systemd unit ok"
else
    echo "systemd-analyze not installed: unit not verified"
fi
echo PASS
