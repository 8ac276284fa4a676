-- Corrections and removals of grades, with their history. A grade's id (the identity column the
-- first schema made) is its stable ID; version counts its changes, 1 for every grade so far. A
-- removed grade keeps its row, marked by removed_at, so that the Idempotency-Key it was entered
-- under still answers a repeat rather than entering it again; every read skips such rows.

-- +goose Up
ALTER TABLE grades
    ADD COLUMN version bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN removed_at timestamptz;

-- One row per correction or removal, written in the transaction that makes it. old_* is the
-- grade before, new_* after (NULL for a removal); version is the version the change made.
CREATE TABLE grade_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id bigint NOT NULL REFERENCES students (id),
    grade_id   bigint NOT NULL REFERENCES grades (id),
    action     text NOT NULL CHECK (action IN ('corrected', 'removed')),
    version    bigint NOT NULL,
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL,
    old_title  text NOT NULL,
    old_type   text NOT NULL,
    old_score  double precision NOT NULL,
    new_title  text,
    new_type   text,
    new_score  double precision,
    CHECK ((action = 'removed') = (new_title IS NULL))
);
CREATE INDEX grade_history_by_student ON grade_history (student_id, id);

-- The Idempotency-Keys of corrections and removals: the request each was first used for (its
-- fingerprint) and the grade answered, kept in the change's own transaction.
CREATE TABLE grade_change_keys (
    idempotency_key bytea PRIMARY KEY,
    student_id      bigint NOT NULL REFERENCES students (id),
    grade_id        bigint NOT NULL REFERENCES grades (id),
    request         text NOT NULL,
    answer          jsonb
);
CREATE INDEX grade_change_keys_by_student ON grade_change_keys (student_id);

-- +goose Down
DROP TABLE grade_change_keys;
DROP TABLE grade_history;
DELETE FROM grades WHERE removed_at IS NOT NULL;
ALTER TABLE grades
    DROP COLUMN removed_at,
    DROP COLUMN version;
