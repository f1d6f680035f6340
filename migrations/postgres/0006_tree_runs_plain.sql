-- jishi ledger, PostgreSQL, version 6: tree_nodes.hashes stored PLAIN (D46).
-- Migration 5 set EXTERNAL, which its comment and the documents did not
-- mean: EXTERNAL skips compression but still moves a value out of the row
-- once the row passes about 2 KB (a run of 32 leaves does), which costs the
-- extra TOAST tuple and index entry per transaction that runs exist to
-- avoid. MAIN would keep it in the row but first try to compress it, which
-- hashes defeat. PLAIN does neither; a run holds at most 64 leaves (6,112
-- bytes), so a row always fits a page. Applies to values written from now
-- on; a value already moved out of line stays readable where it is.
ALTER TABLE tree_nodes ALTER COLUMN hashes SET STORAGE PLAIN;
