/* Request signatures (private to webhooks/): HMAC-SHA256 with OpenSSL, compared in
 * constant time against every configured secret (two during a rotation). */
#ifndef ZONECI_WEBHOOKS_SIGNATURE_H
#define ZONECI_WEBHOOKS_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* GitHub's X-Hub-Signature-256: "sha256=" and 64 hex digits of HMAC(secret, body).
 * True when it matches any of the secrets. Thread-safe. */
bool wh_github_signature_valid(const char *header, const char *body, size_t len,
                               char *const *secrets, size_t n_secrets);

/* How far Slack's X-Slack-Request-Timestamp may be from our clock, either way. */
#define WH_SLACK_MAX_SKEW_MS (5 * 60 * 1000)

/* Slack's v0 request signature: signature_header is "v0=" and 64 hex digits of
 * HMAC(secret, "v0:" timestamp ":" body); timestamp_header is Unix seconds and must be
 * within WH_SLACK_MAX_SKEW_MS of now_ms (a replayed request is refused). True when it
 * matches any of the secrets. Thread-safe; allocation-free. */
bool wh_slack_signature_valid(const char *timestamp_header, const char *signature_header,
                              const char *body, size_t len, char *const *secrets, size_t n,
                              int64_t now_ms);

#endif
