-- migrate:up

-- The names behind the compact ids the history tables store (a smallint instead of a text per
-- row). The gateway's gateway/history_table.py holds the same numbering; a test holds the two
-- together. New directions or exchangers are new rows, in a new migration.
CREATE TABLE directions (
    id   smallint PRIMARY KEY,
    name text NOT NULL UNIQUE
);
INSERT INTO directions (id, name) VALUES
    (1, 'BTC-USD'), (2, 'BTC-RUB'), (3, 'ETH-USD'), (4, 'ETH-RUB'),
    (5, 'USDTTRC-USD'), (6, 'USDTTRC-RUB'), (7, 'USDTERC-USD'), (8, 'USDTERC-RUB');

CREATE TABLE exchangers (
    id   smallint PRIMARY KEY,
    name text NOT NULL UNIQUE
);
INSERT INTO exchangers (id, name) VALUES (1, 'binance'), (2, 'coingecko');

-- What the API served: one row per direction and second at most, written while the value
-- changes and whenever its source changes. Both replicas serve the same values and write the
-- same keys: the first row of a second wins (ON CONFLICT DO NOTHING), so each is stored once.
-- Columns are ordered fixed-width first, widest first: no padding between them. via, NULL on
-- all but cross rates, costs a bit of the null bitmap there and 2 bytes on them (a text[] cost
-- 35). The legs' prices are not repeated here: the ticks hold them (gateway/history_table.py).
CREATE TABLE served (
    at        timestamptz NOT NULL,   -- the whole second the value was served from
    set_at    timestamptz NOT NULL,   -- the course's updated_at: the exchange time behind it
    direction smallint    NOT NULL REFERENCES directions (id),
    exchanger smallint    NOT NULL REFERENCES exchangers (id),
    stale     boolean     NOT NULL,
    disputed  boolean     NOT NULL DEFAULT false,
    value     numeric     NOT NULL CHECK (value > 0),
    via       smallint,               -- a cross rate's other sources: bit (id - 1) of each
    CONSTRAINT served_pkey PRIMARY KEY (direction, at)
);
-- Retention deletes the oldest seconds across directions: rows arrive in time order, so a
-- BRIN index (a few pages for months of rows) finds them.
CREATE INDEX served_at_brin ON served USING brin (at);

-- Candles rolled up as rows arrive (the writer folds every batch it stores into them), so a
-- chart reads at most 1,000 small rows per answer, not the seconds behind them. open_at and
-- close_at are the times of the open and close values: folding rows in any order, twice, or
-- from two replicas gives the same candle.
CREATE TABLE candles_1m (
    bucket    timestamptz NOT NULL,   -- the minute's start (UTC)
    open_at   timestamptz NOT NULL,
    close_at  timestamptz NOT NULL,
    direction smallint    NOT NULL REFERENCES directions (id),
    exchanger smallint    NOT NULL REFERENCES exchangers (id),  -- the close's
    open      numeric     NOT NULL,
    high      numeric     NOT NULL,
    low       numeric     NOT NULL,
    close     numeric     NOT NULL,
    CONSTRAINT candles_1m_pkey PRIMARY KEY (direction, bucket)
);
CREATE TABLE candles_1h (LIKE candles_1m INCLUDING ALL);
ALTER TABLE candles_1h ADD FOREIGN KEY (direction) REFERENCES directions (id);
ALTER TABLE candles_1h ADD FOREIGN KEY (exchanger) REFERENCES exchangers (id);

COMMENT ON TABLE served IS 'What the API served: per direction, at most one row per second';
COMMENT ON TABLE candles_1m IS 'One-minute candles of served values, folded in as rows arrive';
COMMENT ON TABLE candles_1h IS 'One-hour candles of served values, folded in as rows arrive';

-- migrate:down

DROP TABLE candles_1h;
DROP TABLE candles_1m;
DROP TABLE served;
DROP TABLE exchangers;
DROP TABLE directions;
