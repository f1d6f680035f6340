-- jishi ledger, SQLite, version 2: the RFC 9162 Merkle tree over the event
-- hashes and the signed checkpoints. See docs/FORMAT-merkle.md §7 and §8.

-- The perfect-subtree nodes, written once, in the same transaction as the
-- events they cover. Appending leaf `leaf` (0-based: position - 1) completes
-- the leaf hash and one node per trailing 1-bit of the old size; they are kept
-- together in one row, level 0 first, 32 bytes each. So node (level, index)
-- is bytes [32*level, 32*level + 32) of the row of leaf
-- (index + 1) * 2^level - 1: one insert per event, one lookup per node.
CREATE TABLE tree_nodes (
    leaf    INTEGER PRIMARY KEY,   -- 0-based leaf index = position - 1
    hashes  BLOB    NOT NULL       -- 32 * (1 + trailing ones of leaf) bytes
);

-- The frontier of the tree: 8 bytes of big-endian size, then the 32-byte
-- roots of the perfect subtrees covering [0, size), largest first. One row,
-- rewritten by each append transaction, so an append never reads the tree.
CREATE TABLE tree_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    frontier  BLOB    NOT NULL
);

-- Signed checkpoints (C2SP signed notes over tlog-checkpoint bodies), as
-- signed or cosigned. A cosigned note is a new row: nothing is updated.
CREATE TABLE checkpoints (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    origin       TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    root         BLOB    NOT NULL,     -- 32-byte SHA-256 tree root
    note         TEXT    NOT NULL,     -- the whole signed note
    recorded_at  TEXT    NOT NULL
);
CREATE INDEX checkpoints_size ON checkpoints (size);

-- Like the events, nodes and checkpoints are never changed. The triggers stop
-- accidents; `jishi verify` and the checkpoints held by others catch the rest.
CREATE TRIGGER tree_nodes_no_update BEFORE UPDATE ON tree_nodes
BEGIN
    SELECT RAISE(ABORT, 'jishi: tree nodes are written once and never changed');
END;
CREATE TRIGGER tree_nodes_no_delete BEFORE DELETE ON tree_nodes
BEGIN
    SELECT RAISE(ABORT, 'jishi: tree nodes are written once and never deleted');
END;
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'jishi: checkpoints are never changed; store a new one');
END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'jishi: checkpoints are never deleted');
END;
