ALTER TABLE orders ADD COLUMN r float8 DEFAULT random();
