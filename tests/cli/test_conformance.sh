#!/usr/bin/env bash
# test_conformance.sh — every binary in build/bin, and every subcommand it lists with
# `X --list-commands`, held to the option rules of kernels/train/README.md ("Options"): a new
# binary or subcommand is covered as soon as it is built. Each command gets the same cases:
#   --help and -h: exit 0, its own text on stdout (the same for both, and for `X help SUB`),
#     nothing on stderr, the standard options listed;
#   --list-options: "--name<TAB>type" lines, the standard options among them;
#   an unknown option, an abbreviation, a typo, a valued option at the end and before another
#   option, a bad number: exit 2, nothing on stdout, one line on stderr of the form
#   "<binary> <command>: error: <message>" naming the option;
#   and nothing created on disk (each case runs in an empty directory, with --out pointing into
#   the scratch directory when the command has --out).
# Multi-command binaries also get: no command (exit 2), help/--help/-h (the command list, exit
# 0), an unknown command and a misspelt one (exit 2, "did you mean"), `help` of an unknown one.
# Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
B=$(cd "${BUILD:-build}" && pwd)
S=$(mktemp -d "${TMPDIR:-/tmp}/berry-cli.XXXXXX")
trap 'rm -rf "$S"' EXIT
L=$S/logs W=$S/work
mkdir -p "$L" "$W"
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# run NAME CMD...: runs CMD in the empty directory $W; status in $rc, output in $L/out, $L/err.
run() {
    local name=$1; shift
    (cd "$W" && "$@") > "$L/out" 2> "$L/err"; rc=$?
    # Nothing may be created: not in the working directory, not where --out points.
    if [ -n "$(ls -A "$W")" ] || [ -e "$S/new" ]; then
        bad "$name: created $(ls -A "$W") $(ls -d "$S/new" 2> /dev/null)"
        rm -rf "${W:?}"/* "${W:?}"/.[!.]* "$S/new"
    else
        ok
    fi
}
# usage_error NAME PREFIX NEEDLE CMD...: exit 2, stdout empty, one stderr line "PREFIX: error: ..." holding NEEDLE.
usage_error() {
    local name=$1 prefix=$2 needle=$3; shift 3
    run "$name" "$@"
    local first; first=$(head -n 1 "$L/err")
    if [ "$rc" = 2 ] && [ ! -s "$L/out" ] && [ "$(wc -l < "$L/err")" = 1 ] && [[ "$first" == "$prefix: error: "* ]] &&
        grep -qF -- "$needle" "$L/err"; then
        ok
    else
        bad "$name: exit $rc, stdout $(wc -c < "$L/out") bytes, stderr: $(head -c 400 "$L/err") (wanted exit 2, '$prefix: error: ...$needle...')"
    fi
}

ncommands=0
# check_command WORDS...: the cases for one command ("rollout", "verify gen", ...).
check_command() {
    local words=("$@") name="$*"
    ncommands=$((ncommands + 1))
    run "$name --help" "$B/bin/${words[@]}" --help
    if [ "$rc" = 0 ] && [ ! -s "$L/err" ] && head -n 1 "$L/out" | grep -q "^usage: ${words[0]} " &&
        grep -q -- "--quiet" "$L/out" && grep -q -- "--help" "$L/out"; then ok
    else bad "$name --help: exit $rc, stderr $(head -c 200 "$L/err"), stdout starts $(head -n 1 "$L/out")"; fi
    cp "$L/out" "$L/help"
    run "$name -h" "$B/bin/${words[@]}" -h
    if [ "$rc" = 0 ] && cmp -s "$L/out" "$L/help"; then ok; else bad "$name -h: exit $rc, not the text of --help"; fi
    if [ ${#words[@]} -gt 1 ]; then
        run "${words[0]} help ${words[*]:1}" "$B/bin/${words[0]}" help "${words[@]:1}"
        if [ "$rc" = 0 ] && cmp -s "$L/out" "$L/help"; then ok; else bad "${words[0]} help ${words[*]:1}: exit $rc, not the text of --help"; fi
    fi
    run "$name --list-options" "$B/bin/${words[@]}" --list-options
    cp "$L/out" "$L/options"
    if [ "$rc" = 0 ] && grep -q $'^--quiet\tflag$' "$L/options" && grep -q $'^--help\tflag$' "$L/options" &&
        ! grep -qv $'^--[a-z0-9-]*\t[a-z]*$' "$L/options"; then ok
    else bad "$name --list-options: exit $rc: $(head -c 300 "$L/options")"; fi
    local names=() types=() n t
    while IFS=$'\t' read -r n t; do names+=("${n#--}"); types+=("$t"); done < "$L/options"
    # With --out, failures get one pointing into the scratch directory: nothing may appear there.
    local out=()
    grep -q $'^--out\t' "$L/options" && out=(--out "$S/new/o")

    usage_error "$name: unknown option" "$name" "'--no-such-option'" "$B/bin/${words[@]}" "${out[@]}" --no-such-option 1
    # An abbreviation: the first option whose name minus its last letter is not an option too.
    local abbr="" full="" i
    for i in "${!names[@]}"; do
        n=${names[$i]}
        [ ${#n} -ge 4 ] || continue
        printf '%s\n' "${names[@]}" | grep -qx -- "${n%?}" && continue
        abbr=${n%?} full=$n
        break
    done
    usage_error "$name: abbreviation --$abbr" "$name" "did you mean --$full" "$B/bin/${words[@]}" "${out[@]}" "--$abbr" 1
    grep -qF "abbreviations are not accepted" "$L/err" && ok || bad "$name: --$abbr: the message does not say abbreviations are refused"
    # A typo (two letters swapped) is answered with the closest name.
    local typo=${full:0:1}${full:2:1}${full:1:1}${full:3}
    usage_error "$name: typo --$typo" "$name" "did you mean --" "$B/bin/${words[@]}" "${out[@]}" "--$typo" 1
    # A valued option (not --out, when there is another) at the end, and before another option.
    local valued="" number=""
    for i in "${!names[@]}"; do
        case ${types[$i]} in flag) continue ;; esac
        [ -z "$valued" ] || [ "$valued" = out ] && valued=${names[$i]}
        case ${types[$i]} in int | count | bytes | number) [ -z "$number" ] && number=${names[$i]} ;; esac
    done
    if [ -n "$valued" ]; then
        local pre=("${out[@]}")
        [ "$valued" = out ] && pre=()
        usage_error "$name: --$valued at the end" "$name" "--$valued needs a value" "$B/bin/${words[@]}" "${pre[@]}" "--$valued"
        usage_error "$name: --$valued --quiet" "$name" "--$valued needs a value" "$B/bin/${words[@]}" "${pre[@]}" "--$valued" --quiet
    fi
    if [ -n "$number" ]; then
        usage_error "$name: --$number notanumber" "$name" "--$number" "$B/bin/${words[@]}" "${out[@]}" "--$number" notanumber
        grep -qF "'notanumber'" "$L/err" && ok || bad "$name: --$number notanumber: the message does not show the value"
    fi
    # A value that is itself an option: "--out --quiet 5" must not take --quiet as the path.
    if [ ${#out[@]} -gt 0 ]; then
        usage_error "$name: --out --quiet" "$name" "--out needs a value" "$B/bin/${words[@]}" --out --quiet
    fi
}

nbins=0
for bin in "$B"/bin/*; do
    [ -x "$bin" ] && [ -f "$bin" ] || continue
    b=$(basename "$bin")
    nbins=$((nbins + 1))
    subs=$("$bin" --list-commands 2> /dev/null) && [ -n "$subs" ] || subs=""
    if [ -z "$subs" ]; then
        check_command "$b"
        continue
    fi
    # The dispatcher.
    run "$b" "$bin"
    if [ "$rc" = 2 ] && head -n 1 "$L/err" | grep -q "^$b: error: no command given" && [ ! -s "$L/out" ]; then ok
    else bad "$b without a command: exit $rc: $(head -c 200 "$L/err")"; fi
    for h in --help -h help; do
        run "$b $h" "$bin" $h
        missing=""
        for s in $subs; do grep -q "^  $s " "$L/out" || missing+=" $s"; done
        if [ "$rc" = 0 ] && [ ! -s "$L/err" ] && [ -z "$missing" ]; then ok
        else bad "$b $h: exit $rc, commands not listed:$missing"; fi
    done
    first=$(head -n 1 <<< "$subs")
    usage_error "$b nosuchcommand" "$b" "unknown command 'nosuchcommand'" "$bin" nosuchcommand
    typo=${first:0:1}${first:2:1}${first:1:1}${first:3}
    [ "$typo" = "$first" ] && typo=${first}x
    usage_error "$b $typo" "$b" "did you mean '$first'?" "$bin" "$typo"
    usage_error "$b help nosuchcommand" "$b" "unknown command 'nosuchcommand'" "$bin" help nosuchcommand
    run "$b --no-such-option" "$bin" --no-such-option
    if [ "$rc" = 2 ] && grep -qE "^$b( [a-z-]+)?: error: .*--no-such-option" "$L/err"; then ok
    else bad "$b --no-such-option: exit $rc: $(head -c 200 "$L/err")"; fi
    for s in $subs; do check_command "$b" "$s"; done
done
echo "checked $nbins binaries, $ncommands commands"
[ "$nbins" -ge 4 ] && ok || bad "only $nbins binaries in $B/bin (pretrain, rollout, shards and verify at least)"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
