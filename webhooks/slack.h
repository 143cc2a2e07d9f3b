/* Slack interactions (private to webhooks/): the form decoding that POST
 * /webhooks/slack/interactions needs, exposed for its tests. */
#ifndef ZONECI_WEBHOOKS_SLACK_H
#define ZONECI_WEBHOOKS_SLACK_H

#include <stddef.h>

#include "core/core.h"

/* Finds field `name` in an application/x-www-form-urlencoded body (len bytes, need not be
 * NUL-terminated) and URL-decodes its value ("+" is a space, "%XX" a byte) into out, a
 * buffer of cap bytes, NUL-terminated; *out_len is the decoded length. The first
 * occurrence wins. CORE_ENOTFOUND when the field is absent, CORE_EINVAL for a malformed
 * escape or a decoded NUL, CORE_ETOOBIG when the value does not fit in cap - 1 bytes.
 * Never reads past body + len nor writes past out + cap. */
int wh_form_value(const char *body, size_t len, const char *name, char *out, size_t cap,
                  size_t *out_len, core_error *err);

#endif
