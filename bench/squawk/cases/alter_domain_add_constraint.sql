ALTER DOMAIN us_zip ADD CONSTRAINT zip_len CHECK (length(VALUE) = 5);
