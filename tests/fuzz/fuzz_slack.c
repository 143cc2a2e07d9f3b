/* libFuzzer target for Slack interactions: the click parser (webhooks/slack.c) on any
 * payload, and the signature check on any body and headers. Aborts when a parse that
 * succeeds yields a user id, job id, card key or response_url of the wrong shape (or a
 * response_url the validator lets through to another host), or when a signature check
 * accepts what was not signed with the secret. Run with -artifact_prefix=build/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "notifier/notifier.h"
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
        /* A response_url is "" or printable ASCII within its bound, and whatever the
         * payload says, the validator gives a plain answer (ASan checks its reads). */
        {
            size_t n = strlen(c.response_url);

            if (n > WH_SLACK_URL_MAX)
                abort();
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)c.response_url[i] <= 0x20 ||
                    (unsigned char)c.response_url[i] >= 0x7f)
                    abort();
            if (n &&
                notify_slack_response_url_ok(c.response_url, "http://127.0.0.1:8080/api", NULL) &&
                strncasecmp(c.response_url, "https://hooks.slack.com:443/", 28) != 0 &&
                strncasecmp(c.response_url, "https://hooks.slack.com/", 24) != 0 &&
                strncasecmp(c.response_url, "https://hooks.slack-gov.com", 27) != 0 &&
                strncmp(c.response_url, "http://127.0.0.1:8080/", 22) != 0)
                abort(); /* accepted a URL on another origin */
        }
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
