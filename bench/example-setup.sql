-- bench/example-setup.sql: the table bench/example.sql writes to, created
-- before the slots (bench/run --sql-setup FILE)
DROP TABLE IF EXISTS orders;
CREATE TABLE orders (
    id       serial PRIMARY KEY,
    customer int NOT NULL,
    amount   numeric(12, 2),
    note     text,
    created  timestamptz DEFAULT now()
);
