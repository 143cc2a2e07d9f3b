#!/usr/bin/env bash
# Writes a config with 50 regions over 25 distinct zones to stdout, for timing
# `zoneci windows` (bench/RESULTS.md).
zones=(Asia/Tokyo Europe/Berlin America/Los_Angeles America/Sao_Paulo Asia/Kathmandu
       Pacific/Chatham Australia/Lord_Howe Europe/London America/New_York Asia/Kolkata
       Europe/Paris Asia/Singapore Australia/Sydney America/Chicago America/Denver
       Africa/Johannesburg Asia/Dubai Europe/Madrid America/Toronto Asia/Seoul
       Europe/Warsaw America/Mexico_City Asia/Jakarta Europe/Istanbul Pacific/Auckland)
printf '{"server":{"listen":"127.0.0.1:8080"},"redis":{"url":"redis://127.0.0.1:6379"},"regions":['
for i in $(seq 0 49); do
  [ $i -gt 0 ] && printf ','
  printf '{"name":"region-%02d","timezone":"%s","hours":["Mon-Fri 09:00-18:00","Sat 10:00-14:00"],"holidays":["2026-12-25"]}' $i ${zones[$((i % 25))]}
done
printf '],"policies":[{"repos":["*/*"],"regions":["region-00"]}]}\n'
