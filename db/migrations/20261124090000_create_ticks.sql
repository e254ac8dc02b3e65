-- migrate:up

-- Every price a gateway was given, once per exchange event. The key is the event itself
-- (source, instrument, exchange time): the same event delivered by two feeders, two
-- forwarders, a replay or a retried batch is stored once (inserts use ON CONFLICT DO NOTHING).
-- The key's index also serves "latest tick per source and instrument" (a backward scan per
-- key) and time ranges of one instrument.
CREATE TABLE ticks (
    source      text        NOT NULL,
    instrument  text        NOT NULL,
    exchange_ts timestamptz NOT NULL,
    price       numeric     NOT NULL CHECK (price > 0),
    received_ts timestamptz NOT NULL,
    feeder_id   text        NOT NULL,
    transport   text        NOT NULL DEFAULT '',
    seq         bigint      NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ticks_pkey PRIMARY KEY (source, instrument, exchange_ts)
);

-- Time ranges across instruments, and the retention job's oldest-first deletes.
CREATE INDEX ticks_exchange_ts_idx ON ticks (exchange_ts);

COMMENT ON TABLE ticks IS 'Exchange prices as feeders published them, one row per exchange event';
COMMENT ON COLUMN ticks.exchange_ts IS 'the exchange''s own time of the price';
COMMENT ON COLUMN ticks.received_ts IS 'when the feeder read it from the exchange';
COMMENT ON COLUMN ticks.stored_at IS 'when a gateway''s writer stored it';

-- migrate:down

DROP TABLE ticks;
