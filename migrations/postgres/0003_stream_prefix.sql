-- jishi ledger, PostgreSQL, version 3: reading an election and its candidates
-- together. Their streams share a prefix (`election/<id>` and
-- `election/<id>/…`); this index lets a byte-order range scan find them, and
-- their positions, whatever the database's default collation is.
CREATE INDEX events_stream_prefix ON events (stream COLLATE "C", position);
