/* libFuzzer target for Slack interactions: the click parser (webhooks/slack.c) on any
 * payload, and the signature check on any body and headers. Aborts when a parse that
 * succeeds yields a user id, job id or card key of the wrong shape, or when a signature check
 * accepts what was not signed with the secret. Run with -artifact_prefix=build/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "webhooks/signature.h"
#include "webhooks/slack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_id(const char *s, size_t max, int digits_only)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int digit = c >= '0' && c <= '9';
        int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');

        if (!(digit || (!digits_only && alpha)))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wh_slack_click c;
    char *secrets[] = {"8f742231b10e8888abcd99yyyzzz85a5"};
    const char *body = (const char *)data;

    if (wh_slack_click_parse(body, size, &c, NULL) == 0) {
        check_id(c.user, WH_SLACK_USER_MAX, 0);
        check_id(c.job, WH_SLACK_JOB_MAX, 1);
        /* A card key is "" or lower-case hex of the allowed length. */
        if (c.key[0]) {
            size_t n = strlen(c.key);

            if (n < WH_SLACK_KEY_MIN || n > WH_SLACK_KEY_MAX ||
                strspn(c.key, "0123456789abcdef") != n)
                abort();
        }
    }
    /* Random bytes as a signature header never match (the timestamp is "now"). */
    if (size > 8) {
        char sig[128] = "v0=", ts[24];

        memcpy(sig + 3, data, size - 3 < 100 ? size - 3 : 100);
        snprintf(ts, sizeof(ts), "%lld", (long long)(core_time_now_ms() / 1000));
        if (wh_slack_signature_valid(ts, sig, body, size, secrets, 1, core_time_now_ms()))
            abort();
    }
    return 0;
}
