-- 002_revisions: every change kept.
--
-- configurations.revision counts changes of name, comments, config and schema; each revision
-- is kept in configuration_revisions, which only ever grows (rows are never updated). Deleting
-- a configuration deletes its revisions with it (and deleting an application, its
-- configurations): history is kept for as long as the configuration exists.
--
-- applications.revision counts changes of name and comments. applications.version changes
-- whenever the application's representation does, which includes the list of its
-- configuration ids; it is the application's ETag, so conditional writes compare-and-set on it.

ALTER TABLE applications
    ADD COLUMN revision integer NOT NULL DEFAULT 1 CONSTRAINT applications_revision_positive CHECK (revision >= 1),
    ADD COLUMN version bigint NOT NULL DEFAULT 1 CONSTRAINT applications_version_positive CHECK (version >= 1);

ALTER TABLE configurations
    ADD COLUMN revision integer NOT NULL DEFAULT 1 CONSTRAINT configurations_revision_positive CHECK (revision >= 1),
    ADD COLUMN schema jsonb CONSTRAINT configurations_schema_is_object CHECK (jsonb_typeof(schema) = 'object');

CREATE TABLE configuration_revisions (
    configuration_id text COLLATE "C" NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
    revision integer NOT NULL CONSTRAINT configuration_revisions_revision_positive CHECK (revision >= 1),
    name text NOT NULL,
    comments text,
    config jsonb NOT NULL,
    schema jsonb,
    message text CONSTRAINT configuration_revisions_message_length CHECK (char_length(message) <= 1024),
    restored_from integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (configuration_id, revision)
);

-- Configurations that existed before this migration start their history here.
INSERT INTO configuration_revisions (configuration_id, revision, name, comments, config, message, created_at)
SELECT id, 1, name, comments, config, 'history starts here (migration 002)', updated_at
FROM configurations;
