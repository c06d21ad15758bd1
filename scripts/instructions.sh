#!/usr/bin/env bash
# Instructions the gateway's own process executes per request, counted by
# callgrind (repeatable on this shared VM, where req/s vary by ±30% from
# run to run): scenario A (a cached devices(first: 50)) or B (a planned
# query with new filter values each request), 10,000 devices.
#   [FILTER=info] [CODING=br] scripts/instructions.sh RELEASE_BINARY a|b [REQUESTS]
# CODING sends `Accept-Encoding: $CODING` (a compressed hit, for A).
# Needs valgrind, curl and python3; works in ./ab-work. Kernel time is not
# counted: this measures the gateway's own code, which is what changes.
set -eu
BIN=$(realpath "$1"); WHICH=$2; N=${3:-2000}
mkdir -p ab-work && cd ab-work
TOKEN=ab-test-token-0123456789abcdef
HASH=$(printf %s "$TOKEN" | $BIN hash-token -)
cat > gw.toml <<TOML
[server]
listen = "127.0.0.1:18080"
[log]
filter = "${FILTER:-error}"
[store]
url = "sqlite://ab.db?mode=rwc"
[accounts.default]
base_url = "http://127.0.0.1:19090/rpcnew/api/msp/"
api_key_env = "AB_KEY"
[teams.ab]
token_sha256 = "$HASH"
scopes = ["read"]
account = "default"
requests_per_minute = 100000000
burst = 10000000
TOML
cat > drive.py <<'PY'
import http.client, json, sys
n, which = int(sys.argv[1]), sys.argv[2]
coding = sys.argv[3] if len(sys.argv) > 3 else ""
fields = "name machineId status os osVersion ip comment lastSessionAt lastSessionRaw"
page = "{ totalCount edges { cursor node { %s } } pageInfo { hasNextPage endCursor } }" % fields
a = json.dumps({"query": "query A { devices(first: 50) %s }" % page})
b = ("query B($before: DateTime!, $first: Int!) { devices(first: $first, filter: { status: OFFLINE, "
     "lastSessionBefore: $before }, orderBy: { field: LAST_SESSION, direction: DESC }) %s }" % page)
connection = http.client.HTTPConnection("127.0.0.1", 18080)
for i in range(n):
    before = "2026-%02d-%02dT%02d:%02d:00" % (1 + i % 11, 1 + i % 28, i % 24, (i * 7) % 60)
    body = a if which == "a" else json.dumps({"query": b, "variables": {"first": 50, "before": before}})
    headers = {"Content-Type": "application/json",
               "Authorization": "Bearer ab-test-token-0123456789abcdef"}
    if coding:
        headers["Accept-Encoding"] = coding
    connection.request("POST", "/graphql", body, headers)
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 200, answer.status
PY
$BIN simulate --port 19090 --devices 10000 --users 10000 --api-key abkey > /dev/null 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null' EXIT
sleep 1.5
rm -f ab.db* callgrind.out.*
AB_KEY=abkey valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=callgrind.out.%p \
  $BIN serve --config gw.toml > gw.log 2>&1 &
GW=$!
for _ in $(seq 1 300); do curl -s -o /dev/null http://127.0.0.1:18080/healthz && break; sleep 0.5; done
python3 drive.py 300 "$WHICH" "${CODING:-}"   # warm: snapshots read, plans compiled, responses kept
callgrind_control -i on > /dev/null
python3 drive.py "$N" "$WHICH" "${CODING:-}"
callgrind_control -d > /dev/null
sleep 1
kill $GW; wait $GW 2>/dev/null || true
TOTAL=$(callgrind_annotate callgrind.out.*.1 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
echo "$WHICH: $((TOTAL / N)) instructions per request (callgrind.out.*.1 has the profile)"
