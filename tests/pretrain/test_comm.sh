#!/usr/bin/env bash
# The communication layer on the CPU backend: comm_check alone, under mpirun with 2 and 3
# ranks (MPI collectives, the ZeRO-1 reduce-scatter/all-gather, host helpers), and the build
# without MPI (single process; a clear error when started as several ranks). mpirun must be
# present: CI installs OpenMPI through tests/deps.sh, so a missing one is a failure.
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}/tests/pretrain
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# run NAME RANKS CMD...: expects RANKS summary lines, all with 0 failed, and exit 0
run() {
    local name=$1 ranks=$2; shift 2
    local out rc
    out=$("$@" 2>&1); rc=$?
    local sums; sums=$(grep -E 'passed, [0-9]+ failed$' <<<"$out")
    local n; n=$(grep -c . <<<"$sums")
    if [ "$rc" != 0 ] || [ "$n" != "$ranks" ] || grep -qvE ' 0 failed$' <<<"$sums"; then
        bad "$name (exit $rc, $n of $ranks rank summaries)"; printf '%s\n' "$out" | tail -20 >&2
    else
        ok; echo "ok: $name"
    fi
}

run "single process" 1 "$B/comm_check" --expect-world 1
if command -v mpirun >/dev/null; then
    MPIRUN=(mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -x OMPI_MCA_btl_vader_single_copy_mechanism=none)
    run "mpirun -np 2" 2 "${MPIRUN[@]}" -np 2 "$B/comm_check" --expect-world 2
    run "mpirun -np 3" 3 "${MPIRUN[@]}" -np 3 "$B/comm_check" --expect-world 3
else
    bad "mpirun not found: install OpenMPI (tests/deps.sh does: libopenmpi-dev openmpi-bin)"
fi

# the build without MPI
run "no-MPI build, single process" 1 "$B/comm_check_nompi" --expect-world 1
out=$(OMPI_COMM_WORLD_SIZE=2 "$B/comm_check_nompi" 2>&1); rc=$?
if [ "$rc" = 3 ] && grep -q "this build has no MPI" <<<"$out"; then ok; echo "ok: no-MPI build refuses 2 ranks"
else bad "no-MPI build started as rank of 2: exit $rc: $out"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
