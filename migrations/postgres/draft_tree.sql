-- DRAFT for the PostgreSQL store (not wired into any migration list yet; the
-- PostgreSQL engineer adapts and wires it). Same layout as
-- migrations/sqlite/0002_tree.sql; see docs/FORMAT-merkle.md §7-§8.
--
-- What the store must do with these tables (ledger/src/tree.rs, ProofStore):
-- * in the append transaction, after inserting the events: read tree_state
--   FOR UPDATE (or rely on the head lock the append already holds), feed each
--   new event hash to merkle::Frontier::append, INSERT one tree_nodes row per
--   event (the returned nodes concatenated, level 0 first), UPDATE tree_state;
-- * if tree_state.size < head position before the append (a ledger migrated
--   from version 1), first catch up from the events' stored hashes;
-- * if tree_state.size > head position, refuse the append (rows were removed).

CREATE TABLE tree_nodes (
    leaf    BIGINT PRIMARY KEY,          -- 0-based leaf index = position - 1
    hashes  BYTEA  NOT NULL CHECK (length(hashes) % 32 = 0 AND length(hashes) > 0)
);

CREATE TABLE tree_state (
    id        SMALLINT PRIMARY KEY CHECK (id = 1),
    frontier  BYTEA    NOT NULL          -- 8-byte BE size || 32-byte roots
);

CREATE TABLE checkpoints (
    id           BIGSERIAL PRIMARY KEY,
    origin       TEXT   NOT NULL,
    size         BIGINT NOT NULL CHECK (size >= 0),
    root         BYTEA  NOT NULL CHECK (length(root) = 32),
    note         TEXT   NOT NULL,
    recorded_at  TEXT   NOT NULL
);
CREATE INDEX checkpoints_size ON checkpoints (size);

-- tree_nodes and checkpoints: refuse UPDATE, DELETE, TRUNCATE by trigger, as
-- for events; the application role gets INSERT and SELECT on both, and
-- INSERT, SELECT, UPDATE on tree_state.
