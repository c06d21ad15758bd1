#!/usr/bin/env bash
# The gateway's resident memory (VmRSS, split into anonymous and
# file-backed, i.e. code) read from /proc: started, with both collections
# cached, after N requests each of scenarios A and B, and once idle for
# 15 and 35 s (jemalloc's background thread returns freed pages after
# its 10 s decay).
#   [DEVICES=100000] scripts/memory.sh RELEASE_BINARY [N]
# Works in ./memory-work; needs curl and python3.
set -eu
BIN=$(realpath "$1"); N=${2:-2500}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p memory-work && cd memory-work
FILTER=info
. "$HERE/gateway-on-simulator.sh"
rm -f ab.db*
AB_KEY=abkey $BIN serve --config gw.toml > gw.log 2>&1 &
GW=$!
trap 'kill $SIM $GW 2>/dev/null' EXIT
answering 18080
show() {
  awk -v moment="$1" '/^(VmRSS|RssAnon|RssFile):/ { kib[$1] = $2 }
    END { printf "%-24s RSS %6.1f MiB  anonymous %6.1f  file-backed %5.1f\n", moment,
          kib["VmRSS:"] / 1024, kib["RssAnon:"] / 1024, kib["RssFile:"] / 1024 }' "/proc/$GW/status"
}
show "started"
python3 drive.py 10 a 18080; python3 drive.py 10 b 18080; sleep 3
show "both cached"
python3 drive.py "$N" a 18080; python3 drive.py "$N" b 18080
show "after $N A + $N B"
sleep 15; show "idle 15 s"
sleep 20; show "idle 35 s"
