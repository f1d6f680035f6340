-- jishi ledger, SQLite, version 4: format 3, each event commits to its
-- stream predecessor (docs/FORMAT.md §10, D71).
--
-- `stream_prev` is the hash of the previous event of the same stream (32
-- zero bytes for a stream's first event). The event hash covers it (tag
-- `jishi.event.v2`). It is NULL for the events recorded before this version,
-- whose hashes (tag `jishi.event.v1`) do not cover it; once one event has a
-- value, verify refuses a later NULL, so a forger cannot fall back to the
-- older form. Adding the column changes no stored row.
ALTER TABLE events ADD COLUMN stream_prev BLOB;
