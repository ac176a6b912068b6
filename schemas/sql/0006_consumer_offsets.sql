-- consumer_offsets: the consumer's position per partition, committed in the same PostgreSQL
-- transaction as the rows those records produced, so a crash can neither lose nor double-apply.
CREATE TABLE consumer_offsets (
    group_id text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

COMMENT ON TABLE consumer_offsets IS
    'Next Kafka offset to consume per (group, topic, partition); written by runtrack-consumer in the transaction that applied the records before it.';
COMMENT ON COLUMN consumer_offsets.group_id IS 'Consumer group (config group.id).';
COMMENT ON COLUMN consumer_offsets.topic IS 'Kafka topic.';
COMMENT ON COLUMN consumer_offsets.partition IS 'Kafka partition.';
COMMENT ON COLUMN consumer_offsets.next_offset IS 'Offset of the first record not yet applied.';
COMMENT ON COLUMN consumer_offsets.updated_at IS 'When the consumer last moved it (consumer clock).';
