ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT now(123);
