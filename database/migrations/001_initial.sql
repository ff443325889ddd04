-- 001_initial: applications and their configurations.
--
-- Ids are ULIDs kept as text in the "C" collation, so they sort bytewise (for ULIDs: creation
-- order) whatever the server's locale. Length limits and the JSON-object rule are enforced here
-- as well as in the API, so no writer can bypass them. Deleting an application deletes its
-- configurations.

CREATE TABLE applications (
    id text COLLATE "C" PRIMARY KEY CONSTRAINT applications_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    name text NOT NULL CONSTRAINT applications_name_length CHECK (char_length(name) BETWEEN 1 AND 256),
    comments text CONSTRAINT applications_comments_length CHECK (char_length(comments) <= 1024),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT applications_name_key UNIQUE (name)
);

CREATE TABLE configurations (
    id text COLLATE "C" PRIMARY KEY CONSTRAINT configurations_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    application_id text COLLATE "C" NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    name text NOT NULL CONSTRAINT configurations_name_length CHECK (char_length(name) BETWEEN 1 AND 256),
    comments text CONSTRAINT configurations_comments_length CHECK (char_length(comments) <= 1024),
    config jsonb NOT NULL CONSTRAINT configurations_config_is_object CHECK (jsonb_typeof(config) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT configurations_application_id_name_key UNIQUE (application_id, name)
);

CREATE INDEX configurations_application_id_id_idx ON configurations (application_id, id);
