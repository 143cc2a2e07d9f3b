/* Secrets named by the configuration: read from an environment variable or a file at the
 * moment they are needed, so that the config itself never holds one. Messages name the
 * variable or the file, never the value. */
#include "policies/policies.h"

#include <stdlib.h>
#include <string.h>

#define SECRET_FILE_MAX (64 * 1024)

static void wipe_free(char *s, size_t n)
{
    core_wipe(s, n);
    free(s);
}

int policy_secret_read(const policy_secret_ref *ref, char **out, core_error *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc;

    CORE_ASSERT(ref != NULL && out != NULL);
    *out = NULL;
    if (ref->env) {
        const char *v = getenv(ref->env);

        if (v && *v) {
            *out = core_strndup(v, strlen(v));
            if (!*out)
                return core_error_set(err, CORE_ENOMEM, "$%s: out of memory", ref->env);
            return 0;
        }
    }
    if (!ref->file) {
        if (ref->env)
            return core_error_set(err, CORE_ENOTFOUND, "environment variable %s is not set",
                                  ref->env);
        return core_error_set(err, CORE_ENOTFOUND, "no environment variable or file named");
    }
    rc = core_file_read(ref->file, SECRET_FILE_MAX, &data, &len, err);
    if (rc < 0) {
        if (ref->env)
            return core_error_wrap(err, "%s is not set and the secret file", ref->env);
        return core_error_wrap(err, "secret file");
    }
    /* Editors and `echo` end files with a newline that is not part of the secret. */
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    if (memchr(data, '\0', len)) {
        wipe_free(data, len);
        return core_error_set(err, CORE_EINVAL, "secret file %s: holds a NUL byte", ref->file);
    }
    if (len == 0) {
        free(data);
        return core_error_set(err, CORE_ENOTFOUND, "secret file %s is empty", ref->file);
    }
    *out = data;
    return 0;
}
