VACUUM (FULL false, ANALYZE) events;
