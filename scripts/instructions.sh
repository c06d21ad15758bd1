#!/usr/bin/env bash
# Instructions the gateway's own process executes per request, counted by
# callgrind (repeatable on this shared VM, where req/s vary by ±30% from
# run to run): scenario A (a cached devices(first: 50)) or B (a planned
# query with new filter values each request), 10,000 devices.
#   [FILTER=info] [CODING=br] scripts/instructions.sh RELEASE_BINARY a|b [REQUESTS]
# CODING sends `Accept-Encoding: $CODING` (a compressed hit, for A).
# Then the floor, counted the same way: examples/bare_hyper (built beside
# BINARY: `cargo build --profile bench --example bare_hyper`) answering
# every request with the bytes of the gateway's last answer.
# Background work is kept out of the count: snapshots live 10 minutes
# (no refresh lands in the window), and counting starts once the process
# is idle after the warm-up (the change log's first write of 20,000 rows
# is done). Needs valgrind, curl and python3; works in ./ab-work. Kernel
# time is not counted: this measures the processes' own code.
set -eu
BIN=$(realpath "$1"); WHICH=$2; N=${3:-2000}
BARE=$(dirname "$BIN")/examples/bare_hyper
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p ab-work && cd ab-work
. "$HERE/gateway-on-simulator.sh"
rm -f ab.db* callgrind.out.*
AB_KEY=abkey valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=callgrind.out.%p \
  $BIN serve --config gw.toml > gw.log 2>&1 &
GW=$!
# Waits (at most 2 minutes) until PROCESS uses under 5% of a core for a
# second.
settle() {
  local before after
  for _ in $(seq 1 120); do
    before=$(awk '{print $14 + $15}' "/proc/$1/stat")
    sleep 1
    after=$(awk '{print $14 + $15}' "/proc/$1/stat")
    [ $((after - before)) -lt 5 ] && return
  done
}
# Counts what PROCESS executes for N requests after a warm-up; prints it
# per request.
count() {
  local process=$1 port=$2
  answering "$port"
  python3 drive.py 300 "$WHICH" "$port" "${CODING:-}"   # warm: snapshots read, plans compiled, responses kept
  settle "$process"
  callgrind_control -i on "$process" > /dev/null
  python3 drive.py "$N" "$WHICH" "$port" "${CODING:-}"
  callgrind_control -d "$process" > /dev/null
  sleep 1
  kill "$process"; wait "$process" 2>/dev/null || true
  local total
  total=$(callgrind_annotate "callgrind.out.$process.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
  echo $((total / N))
}
GATEWAY=$(count $GW 18080)
echo "$WHICH: $GATEWAY instructions per request (callgrind.out.$GW.1 has the profile)"
if [ -x "$BARE" ]; then
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=callgrind.out.%p \
    "$BARE" answer.bin 18081 > bare.log 2>&1 &
  BARE_PID=$!
  FLOOR=$(count $BARE_PID 18081)
  echo "bare hyper, the same $(wc -c < answer.bin) bytes: $FLOOR instructions per request; the gateway: $(python3 -c "print(f'{$GATEWAY / $FLOOR:.2f}')")x"
else
  echo "no $BARE: build it with cargo build --profile bench --example bare_hyper for the floor"
fi
