-- deploy/sql/runtrack_role.sql — the least-privilege PostgreSQL role runtrack-consumer runs as.
--
--   psql -v ON_ERROR_STOP=1 -d runtrack -v role=runtrack_consumer -v password=SECRET \
--        -f deploy/sql/runtrack_role.sql
--
-- Run it as the owner of the runtrack tables (the role that ran `runtrack-consumer migrate`),
-- after the migrations, in the runtrack database; again after every upgrade that adds tables
-- (it is idempotent). Without -v role it is runtrack_consumer; without -v password the role
-- gets no password (use peer/cert authentication, or ALTER ROLE ... PASSWORD yourself).
--
-- What the consumer does, and so all it may do:
--   ingest       INSERT/UPDATE runs, run_results, discovery_runs (upserts), INSERT run_logs and
--                dead_letters (ON CONFLICT DO NOTHING), SELECT/INSERT/UPDATE consumer_offsets
--                (offsets + fence) and dead_letter_days (the daily dead-letter payload cap), COPY into TEMP tables (TEMPORARY on the database), nextval
--                on the SERIAL/BIGSERIAL sequences (USAGE)
--   HTTP API     SELECT on the tables and the API views (0100_api_views.sql); INSERT, UPDATE on
--                api_keys (keys made and revoked, last_used_at), INSERT on audit_log (0029);
--                INSERT, UPDATE, DELETE on api_sessions (dashboard logins, 0030)
--   maintenance  UPDATE runs + upsert run_results/discovery_runs (closing stale runs), DELETE
--                old rows of runs, run_logs, run_results, discovery_runs, dead_letters
--                (retention), INSERT/DELETE runs_removed (tombstones of deleted runs);
--                session advisory locks need no privilege
-- Not granted: CREATE on the schema or database (migrations run with the owner's DSN, e.g. the
-- container's RUNTRACK_MIGRATE_PG_DSN), TRUNCATE, REFERENCES, TRIGGER, DELETE on
-- consumer_offsets, UPDATE on run_logs/dead_letters, anything on schema_migrations but SELECT.
\set ON_ERROR_STOP on
\if :{?role}
\else
\set role runtrack_consumer
\endif

SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
\if :{?password}
ALTER ROLE :"role" PASSWORD :'password';
\endif
-- No superuser-like attributes, ever (also if the role existed before).
ALTER ROLE :"role" NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;

-- Start from nothing on our objects, so re-running after a change also takes rights away.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM :"role";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM :"role";
REVOKE CREATE ON SCHEMA public FROM :"role";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), :'role') \gexec
SELECT format('REVOKE CREATE ON DATABASE %I FROM %I', current_database(), :'role') \gexec
GRANT USAGE ON SCHEMA public TO :"role";

-- Reading: every table and view of the schema (the API, rule checks, version check).
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"role";

GRANT INSERT, UPDATE, DELETE ON runs, run_results, discovery_runs TO :"role";
GRANT INSERT, DELETE ON run_logs, dead_letters, runs_removed TO :"role";
GRANT INSERT, UPDATE ON consumer_offsets, dead_letter_days TO :"role";
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO :"role";
-- API keys and the audit trail (0029): the HTTP API creates and revokes keys (admin scope),
-- stamps last_used_at, and appends audit rows; it never deletes either.
GRANT INSERT, UPDATE ON api_keys TO :"role";
GRANT INSERT ON audit_log TO :"role";
-- Dashboard sessions (0030): logins insert, requests stamp last_seen_at, logouts revoke, and a
-- login deletes sessions that ended more than a day ago.
GRANT INSERT, UPDATE, DELETE ON api_sessions TO :"role";
