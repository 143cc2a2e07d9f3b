CREATE DOMAIN us_zip AS text CHECK (length(VALUE) = 5);
