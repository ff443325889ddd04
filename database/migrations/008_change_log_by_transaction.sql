-- 008_change_log_by_transaction: the change log is ordered by the writing transaction's id, so
-- writers no longer queue on one row.
--
-- 003 handed out positions from the one row of change_log_head, locked by every writer until its
-- commit reached disk: one durable commit at a time, deployment-wide. Now a record's position is
-- the id of the transaction that wrote it, shifted left by 20 bits, plus its ordinal within that
-- transaction (1, 2, ...): `(pg_current_xact_id() << 20) + n`. Ordering by position is ordering
-- by (transaction id, ordinal). A reader reads only positions below
-- `pg_snapshot_xmin(pg_current_snapshot()) << 20`: every transaction with a smaller id has
-- ended, and every transaction still to write gets a larger id, so that part of the log is final
-- and "position > P below the frontier" resumes exactly, whatever the commit order.
--
-- Positions now have gaps, so where the log starts can no longer be told from its oldest record:
-- change_log_pruned holds the highest position pruning ever dropped. A reader at P >= it misses
-- nothing.
--
-- Records 003 wrote keep their positions (1, 2, ...): they are far below any new one, which
-- this migration checks.

DO $$
BEGIN
    IF (SELECT coalesce(max(position), 0) FROM change_log)
        >= (pg_current_xact_id()::text::bigint << 20) THEN
        RAISE EXCEPTION 'change_log holds positions at or above the first position of 008';
    END IF;
END
$$;

CREATE TABLE change_log_pruned (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT change_log_pruned_one_row CHECK (singleton),
    position bigint NOT NULL DEFAULT 0 CONSTRAINT change_log_pruned_not_negative CHECK (position >= 0)
);

-- 003's log was gap-free from its oldest record to its head: everything below was pruned.
INSERT INTO change_log_pruned (position)
SELECT coalesce((SELECT min(position) - 1 FROM change_log), (SELECT position FROM change_log_head));

DROP TABLE change_log_head;
