-- Content checksum of the consumer's tables, excluding what legitimately differs between a live
-- run and a replay (surrogate keys run_result_id / dead_letters.id, received_at, runs.received_at
-- and runs.first_received_at) and the
-- offsets. One line per table: name|rows|md5.
SELECT 'runs|' || count(*) || '|' || coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '')
  FROM (SELECT to_jsonb(r) - 'received_at' - 'first_received_at' AS t FROM runs r) x;
SELECT 'run_results|' || count(*) || '|' || coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '')
  FROM (SELECT run_id, file_name, start_time_df, events_count_start, urls_count_start,
               events_count_end, urls_count_end, new_events_in_db, new_urls_in_db, time_stamp,
               elapsed_time FROM run_results) t;
SELECT 'discovery_runs|' || count(*) || '|' || coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '')
  FROM (SELECT * FROM discovery_runs) t;
SELECT 'run_logs|' || count(*) || '|' || coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '')
  FROM (SELECT * FROM run_logs) t;
SELECT 'dead_letters|' || count(*) || '|' || coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '')
  FROM (SELECT topic, partition, "offset", msg_key, payload, payload_size, reason, detail, kafka_ts
        FROM dead_letters) t;
