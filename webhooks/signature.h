/* Request signatures (private to webhooks/): HMAC-SHA256 with OpenSSL, compared in
 * constant time against every configured secret (two during a rotation). */
#ifndef ZONECI_WEBHOOKS_SIGNATURE_H
#define ZONECI_WEBHOOKS_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>

/* GitHub's X-Hub-Signature-256: "sha256=" and 64 hex digits of HMAC(secret, body).
 * True when it matches any of the secrets. Thread-safe. */
bool wh_github_signature_valid(const char *header, const char *body, size_t len,
                               char *const *secrets, size_t n_secrets);

#endif
