-- dead_letter_days: the day's running total of dead-letter payload bytes stored, so that a
-- poison producer cannot fill the disk (at 40k bad records/s, terabytes a day). Past the
-- consumer's daily cap (dead_letters_payload_kib_per_day) a dead letter keeps its reason, key,
-- topic/partition/offset, size and detail, but not its payload. The total lives here, not in a
-- consumer, so the cap holds across restarts and across the consumers of a group: each batch
-- with dead letters locks the day's row, reads it, and adds what it stored, in the transaction
-- that writes the rows. One row a day (UTC); rows are a few bytes and are never pruned.
CREATE TABLE dead_letter_days (
    day date PRIMARY KEY,
    payload_bytes bigint NOT NULL DEFAULT 0,
    payload_dropped bigint NOT NULL DEFAULT 0
);

COMMENT ON TABLE dead_letter_days IS
    'Per UTC day: dead-letter payload bytes stored and payloads dropped past the daily cap.';
COMMENT ON COLUMN dead_letter_days.day IS 'UTC day of the transaction that stored the dead letters.';
COMMENT ON COLUMN dead_letter_days.payload_bytes IS 'Bytes of dead_letters.payload stored that day.';
COMMENT ON COLUMN dead_letter_days.payload_dropped IS
    'Dead letters stored without their payload that day (daily cap reached).';
COMMENT ON COLUMN dead_letters.payload IS
    'Raw record value (NULL if none, or dropped past the daily cap: payload_size > 0 and detail starting "payload dropped: daily cap").';
