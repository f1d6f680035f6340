-- jishi ledger, PostgreSQL, version 4: the RFC 9162 Merkle tree over the
-- event hashes and the signed checkpoints. The same layout as
-- migrations/sqlite/0002_tree.sql; see docs/FORMAT-merkle.md §7 and §8.

-- The perfect-subtree nodes, written once, in the same transaction as the
-- events they cover. Appending leaf `leaf` (0-based: position - 1) completes
-- the leaf hash and one node per trailing 1-bit of the old size; they are kept
-- together in one row, level 0 first, 32 bytes each. So node (level, index)
-- is bytes [32*level, 32*level + 32) of the row of leaf
-- (index + 1) * 2^level - 1: one row per event, one lookup per node.
CREATE TABLE tree_nodes (
    leaf    bigint PRIMARY KEY,          -- 0-based leaf index = position - 1
    hashes  bytea  NOT NULL CHECK (length(hashes) % 32 = 0 AND length(hashes) > 0)
);

-- The frontier of the tree: 8 bytes of big-endian size, then the 32-byte
-- roots of the perfect subtrees covering [0, size), largest first. One row,
-- rewritten by each append transaction, so an append never reads the tree.
CREATE TABLE tree_state (
    id        smallint PRIMARY KEY CHECK (id = 1),
    frontier  bytea    NOT NULL
);

-- Signed checkpoints (C2SP signed notes over tlog-checkpoint bodies), as
-- signed or cosigned. A cosigned note is a new row: nothing is updated.
CREATE TABLE checkpoints (
    id           bigserial PRIMARY KEY,
    origin       text   NOT NULL,
    size         bigint NOT NULL CHECK (size >= 0),
    root         bytea  NOT NULL CHECK (length(root) = 32),  -- SHA-256 tree root
    note         text   NOT NULL,                            -- the whole signed note
    recorded_at  text   NOT NULL
);
CREATE INDEX checkpoints_size ON checkpoints (size);

-- Like the events, nodes and checkpoints are never changed. The triggers stop
-- accidents; `jishi verify` and the checkpoints held by others catch the rest.
CREATE TRIGGER tree_nodes_no_update BEFORE UPDATE ON tree_nodes
    FOR EACH ROW EXECUTE FUNCTION jishi_refuse_change();
CREATE TRIGGER tree_nodes_no_delete BEFORE DELETE ON tree_nodes
    FOR EACH ROW EXECUTE FUNCTION jishi_refuse_change();
CREATE TRIGGER tree_nodes_no_truncate BEFORE TRUNCATE ON tree_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION jishi_refuse_change();
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION jishi_refuse_change();
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION jishi_refuse_change();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION jishi_refuse_change();

-- The application role appends nodes and checkpoints and reads them; the
-- frontier row is the one row it rewrites (each append moves it forward).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jishi_app') THEN
        GRANT SELECT, INSERT ON tree_nodes, checkpoints TO jishi_app;
        GRANT SELECT, INSERT, UPDATE ON tree_state TO jishi_app;
        GRANT USAGE ON SEQUENCE checkpoints_id_seq TO jishi_app;
    END IF;
END
$$;
