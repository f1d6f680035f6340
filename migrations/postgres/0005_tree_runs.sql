-- jishi ledger, PostgreSQL, version 5: a tree_nodes row holds a run.
-- Since D38 an append transaction writes one row for all the leaves it adds:
-- `leaf` is the run's first leaf and `hashes` the nodes each of its leaves
-- completed, in leaf order (docs/FORMAT-merkle.md §7.1). Rows written before
-- are runs of one leaf; nothing needs rewriting.
COMMENT ON COLUMN tree_nodes.leaf IS
    'first leaf (position - 1) of the run of leaves whose nodes this row holds';
COMMENT ON COLUMN tree_nodes.hashes IS
    'per leaf of the run, in order: the nodes its append completed, level 0 first, 32 bytes each';

-- A run of 32 leaves (a group commit of 32 events) is about 2 KB, past
-- PostgreSQL's threshold for moving a value out of its row (TOAST): two
-- more tuples and index entries per transaction, which the run exists to
-- avoid. MAIN keeps the value in the row unless the row would not fit a page.
ALTER TABLE tree_nodes ALTER COLUMN hashes SET STORAGE EXTERNAL;
