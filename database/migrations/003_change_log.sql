-- 003_change_log: a durable, gap-free log of every change, for delivery to running services.
--
-- Every writing transaction appends its records as its LAST statement, after taking the one
-- row of change_log_head with `UPDATE ... SET position = position + n`. That row lock is held
-- until commit, so appends are serialised: positions are handed out in commit order and without
-- gaps, and a reader that has seen position P gets every later change by asking for
-- `position > P`. The same transaction sends pg_notify('config_changes', <position>), which
-- PostgreSQL delivers on commit. Old records are pruned (CHANGE_LOG_RETENTION_HOURS); the log
-- keeps no foreign keys, so records outlive the configurations they describe.

CREATE TABLE change_log_head (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT change_log_head_one_row CHECK (singleton),
    position bigint NOT NULL DEFAULT 0 CONSTRAINT change_log_head_position_not_negative CHECK (position >= 0)
);
INSERT INTO change_log_head DEFAULT VALUES;

CREATE TABLE change_log (
    position bigint PRIMARY KEY CONSTRAINT change_log_position_positive CHECK (position >= 1),
    application_id text COLLATE "C" NOT NULL,
    configuration_id text COLLATE "C",
    configuration_name text,
    kind text NOT NULL CONSTRAINT change_log_kind CHECK (
        kind IN ('created', 'updated', 'restored', 'deleted', 'application_renamed', 'application_deleted')
    ),
    revision integer,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX change_log_application_id_position_idx ON change_log (application_id, position);
