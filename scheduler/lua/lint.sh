#!/bin/sh
# Lints the store's Lua: every DIR/*.lua parses on its own, every script is a function of
# the assembled library (the text PRINTER prints, as FUNCTION LOAD receives it), and that
# library touches no global but Redis's own: a global written is a bug (it would outlive
# the call, shared by every script), a global read that is not Redis's is a typo or a
# helper missing from library.lua, which Lua would only report when the line runs.
#
# usage: lint.sh LUAC DIR PRINTER
set -eu
LC_ALL=C
export LC_ALL

luac=$1
dir=$2
printer=$3
# What Redis 7's function sandbox provides (and the Lua 5.1 base names it keeps).
allowed=' redis cjson cmsgpack bit struct string table math tonumber tostring type pairs
  ipairs unpack error pcall next select assert rawget rawset rawequal setmetatable
  getmetatable loadstring '
lib=$(mktemp)
trap 'rm -f "$lib"' EXIT
status=0

for f in "$dir"/*.lua; do
    "$luac" -p "$f" || status=1
done

"$printer" >"$lib"
for f in "$dir"/*.lua; do
    name=$(basename "$f" .lua)
    [ "$name" = library ] && continue
    if ! grep -q "^redis.register_function('zoneci_[0-9a-f]*_$name', function(KEYS, ARGV)\$" "$lib"; then
        echo "lint-lua: $f: not in the library (add it to scripts.h and scripts.c's tables)" >&2
        status=1
    fi
done

# luac's listing names each global it reads or writes: "GETGLOBAL 0 -1 ; redis".
"$luac" -p -l - <"$lib" | awk -v allowed="$allowed" -v lib="$lib" '
    BEGIN { n = split(allowed, a, /[ \n]+/); for (i = 1; i <= n; i++) ok[a[i]] = 1 }
    $3 == "SETGLOBAL" || ($3 == "GETGLOBAL" && !ok[$NF]) {
        line = substr($2, 2, length($2) - 2) + 0
        text = ""
        for (i = 1; i <= line; i++) getline text <lib
        close(lib)
        printf "lint-lua: library line %s: %s %s: %s\n", line,
               ($3 == "SETGLOBAL" ? "writes global" : "reads unknown global"), $NF, text
        bad = 1
    }
    END { exit bad }' >&2 || status=1

[ "$status" = 0 ] && echo "lua ok: $(ls "$dir"/*.lua | wc -l) files, no stray globals"
exit "$status"
