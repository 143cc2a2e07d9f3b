#!/usr/bin/env bash
# Signs a JSON payload the way GitHub does (HMAC-SHA256 over the raw body) and posts it
# to a running zoneci. usage: examples/send-event.sh [FILE] [EVENT] [URL]
set -euo pipefail
file=${1:-examples/pull_request.opened.json}
event=${2:-pull_request}
url=${3:-http://127.0.0.1:8080/webhooks/github}
secret=${ZONECI_GITHUB_SECRET:-dev-webhook-secret}
sig=$(openssl dgst -sha256 -hmac "$secret" < "$file" | sed 's/^.* //')
curl -sS -X POST "$url" \
  -H 'Content-Type: application/json' \
  -H "X-GitHub-Event: $event" \
  -H "X-GitHub-Delivery: $(cat /proc/sys/kernel/random/uuid)" \
  -H "X-Hub-Signature-256: sha256=$sig" \
  --data-binary @"$file"
echo
