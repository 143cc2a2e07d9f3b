/* HMAC-SHA256 signature checks. The expected MAC is decoded from hex first, so the
 * comparison is over raw bytes of fixed length and takes the same time wherever the
 * first difference is; every secret is tried, so timing does not tell which matched. */
#include "webhooks/signature.h"

#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "core/core.h"

#define SHA256_LEN 32

static bool hex_decode(const char *hex, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = core_hex_digit(hex[2 * i]), lo = core_hex_digit(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

bool wh_github_signature_valid(const char *header, const char *body, size_t len,
                               char *const *secrets, size_t n_secrets)
{
    unsigned char expected[SHA256_LEN];
    bool match = false;

    if (!header || strncmp(header, "sha256=", 7) != 0 || strlen(header + 7) != 2 * SHA256_LEN ||
        !hex_decode(header + 7, SHA256_LEN, expected))
        return false;
    for (size_t i = 0; i < n_secrets; i++) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;

        if (!HMAC(EVP_sha256(), secrets[i], (int)strlen(secrets[i]), (const unsigned char *)body,
                  len, mac, &maclen) ||
            maclen != SHA256_LEN)
            continue;
        match |= core_ct_equal(mac, expected, SHA256_LEN);
    }
    return match;
}

/* The timestamp is digits only (no sign, no spaces) and short enough not to overflow. */
static bool timestamp_fresh(const char *ts, int64_t now_ms)
{
    int64_t secs = 0;
    size_t n = ts ? strlen(ts) : 0;

    if (n == 0 || n > 12)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (ts[i] < '0' || ts[i] > '9')
            return false;
        secs = secs * 10 + (ts[i] - '0');
    }
    return secs * 1000 >= now_ms - WH_SLACK_MAX_SKEW_MS &&
           secs * 1000 <= now_ms + WH_SLACK_MAX_SKEW_MS;
}

bool wh_slack_signature_valid(const char *timestamp_header, const char *signature_header,
                              const char *body, size_t len, char *const *secrets, size_t n,
                              int64_t now_ms)
{
    unsigned char expected[SHA256_LEN];
    char digest[] = "SHA256";
    EVP_MAC *mac_alg;
    bool match = false;

    if (!timestamp_fresh(timestamp_header, now_ms) || !signature_header ||
        strncmp(signature_header, "v0=", 3) != 0 ||
        strlen(signature_header + 3) != 2 * SHA256_LEN ||
        !hex_decode(signature_header + 3, SHA256_LEN, expected))
        return false;
    mac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac_alg)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        size_t maclen = 0;
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac_alg);
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                               OSSL_PARAM_construct_end()};
        bool ok;

        if (!ctx)
            continue;
        /* The base string is "v0:" TS ":" body, fed in pieces so the body is not copied. */
        ok = EVP_MAC_init(ctx, (const unsigned char *)secrets[i], strlen(secrets[i]), params) &&
             EVP_MAC_update(ctx, (const unsigned char *)"v0:", 3) &&
             EVP_MAC_update(ctx, (const unsigned char *)timestamp_header,
                            strlen(timestamp_header)) &&
             EVP_MAC_update(ctx, (const unsigned char *)":", 1) &&
             EVP_MAC_update(ctx, (const unsigned char *)body, len) &&
             EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) && maclen == SHA256_LEN;
        EVP_MAC_CTX_free(ctx);
        if (ok)
            match |= core_ct_equal(mac, expected, SHA256_LEN);
    }
    EVP_MAC_free(mac_alg);
    return match;
}
