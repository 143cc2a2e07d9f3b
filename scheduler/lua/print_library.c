/* Prints the store's function library as FUNCTION LOAD receives it, for `make lint-lua`
 * (scheduler/lua/lint.sh): the lint checks the assembled text, not the files one by one. */
#include <stdio.h>

#include "scheduler/scripts.h"

int main(void)
{
    return fputs(sched_script_library(), stdout) < 0 || fflush(stdout) != 0;
}
