/* zoneci command line: wires the modules together and dispatches sub-commands. */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "version") == 0) {
        printf("zoneci 0.1.0\n");
        return 0;
    }
    fprintf(stderr, "usage: zoneci COMMAND\n");
    return 2;
}
