ALTER TABLE orders ADD COLUMN meta jsonb DEFAULT myjsonb();
