-- dead_letters: every Kafka record the consumer could not apply, with the raw bytes, so nothing
-- is lost silently. UNIQUE (topic, partition, "offset") makes re-consuming after a crash harmless.
CREATE TABLE dead_letters (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    partition integer NOT NULL,
    "offset" bigint NOT NULL,
    msg_key bytea,
    payload bytea,
    payload_size integer NOT NULL,
    reason text NOT NULL,
    detail text,
    kafka_ts timestamptz,
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dead_letters_topic_partition_offset_key UNIQUE (topic, partition, "offset")
);

COMMENT ON TABLE dead_letters IS
    'Kafka records runtrack-consumer rejected, with the reason and the raw bytes.';
COMMENT ON COLUMN dead_letters.id IS 'Arrival order (consumer side).';
COMMENT ON COLUMN dead_letters.topic IS 'Kafka topic of the record.';
COMMENT ON COLUMN dead_letters.partition IS 'Kafka partition of the record.';
COMMENT ON COLUMN dead_letters."offset" IS 'Kafka offset of the record.';
COMMENT ON COLUMN dead_letters.msg_key IS 'Raw record key (NULL if none).';
COMMENT ON COLUMN dead_letters.payload IS
    'Raw record value (NULL if none; may be truncated for oversize records, see payload_size).';
COMMENT ON COLUMN dead_letters.payload_size IS 'Size in bytes of the original record value.';
COMMENT ON COLUMN dead_letters.reason IS
    'Machine code: invalid_json, schema, unknown_type, unsupported_version, oversize, rule, ...';
COMMENT ON COLUMN dead_letters.detail IS 'Human-readable explanation.';
COMMENT ON COLUMN dead_letters.kafka_ts IS 'Kafka record timestamp, if any.';
COMMENT ON COLUMN dead_letters.received_at IS 'When the consumer stored the row (consumer clock).';
