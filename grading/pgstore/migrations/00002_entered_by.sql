-- Who entered each grade and when. Grades recorded before these columns existed keep an empty
-- entered_by and a NULL entered_at, which read back as "not known".

-- +goose Up
ALTER TABLE grades
    ADD COLUMN entered_by text NOT NULL DEFAULT '',
    ADD COLUMN entered_at timestamptz;

-- +goose Down
ALTER TABLE grades
    DROP COLUMN entered_at,
    DROP COLUMN entered_by;
