-- bench/example.sql: an example of your own workload (bench/run --sql FILE)
--
-- Everything this file does after the slots exist is decoded by every
-- plugin; what it needs beforehand goes in a file given to --sql-setup
-- (here bench/example-setup.sql).  Transactions, DDL and any tables are
-- allowed; the row changes are counted in every plugin's output and
-- compared with pgoutput's.
BEGIN;
INSERT INTO orders (customer, amount, note)
    SELECT g % 97, g * 1.5, 'order ' || g FROM generate_series(1, 500) g;
COMMIT;
UPDATE orders SET amount = amount * 2 WHERE id % 5 = 0;
DELETE FROM orders WHERE id % 7 = 0;
