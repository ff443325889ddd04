-- Undo 008_change_log_by_transaction: back to one head row that every writer locks. The head
-- starts above every position handed out, so 003's appends continue after them.
CREATE TABLE change_log_head (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT change_log_head_one_row CHECK (singleton),
    position bigint NOT NULL DEFAULT 0 CONSTRAINT change_log_head_position_not_negative CHECK (position >= 0)
);
INSERT INTO change_log_head (position)
SELECT greatest(
    (SELECT coalesce(max(position), 0) FROM change_log),
    (SELECT position FROM change_log_pruned)
);

DROP TABLE change_log_pruned;
