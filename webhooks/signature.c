/* HMAC-SHA256 signature checks. The expected MAC is decoded from hex first, so the
 * comparison is over raw bytes of fixed length and takes the same time wherever the
 * first difference is; every secret is tried, so timing does not tell which matched. */
#include "webhooks/signature.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

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

        if (!HMAC(EVP_sha256(), secrets[i], (int)strlen(secrets[i]),
                  (const unsigned char *)body, len, mac, &maclen) ||
            maclen != SHA256_LEN)
            continue;
        match |= core_ct_equal(mac, expected, SHA256_LEN);
    }
    return match;
}
