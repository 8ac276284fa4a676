-- The first schema of grading's data. Every rule that must hold across instances is a constraint
-- here, so that no instance can break it whatever it runs.

-- +goose Up
-- store_meta holds the store's own facts in exactly one row: its ID, made here once, so that
-- every instance on this database advertises the same one (grading.StoreIDMeta).
CREATE TABLE store_meta (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    store_id  text NOT NULL
);
INSERT INTO store_meta (store_id) VALUES ('pg-' || gen_random_uuid());

CREATE TABLE students (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    first_name text NOT NULL,
    last_name  text NOT NULL
);

-- A grade's id is its insertion order within its student. idempotency_key is NULL for a write
-- that is not deduplicated; otherwise it names this grade alone, in the same row, so that a key
-- can never be kept without its grade or the other way round. It is bytea because a key is any
-- bytes a client sent.
CREATE TABLE grades (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id      bigint NOT NULL REFERENCES students (id),
    title           text NOT NULL,
    type            text NOT NULL CHECK (type IN ('Test', 'Homework', 'Quiz')),
    -- NaN is larger than every number in PostgreSQL, so it fails this check too.
    score           double precision NOT NULL CHECK (score >= 0 AND score <= 100),
    idempotency_key bytea UNIQUE
);
CREATE INDEX grades_by_student ON grades (student_id, id);

-- +goose Down
DROP TABLE grades;
DROP TABLE students;
DROP TABLE store_meta;
