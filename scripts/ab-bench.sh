#!/usr/bin/env bash
# Interleaved A/B of two release gateway binaries on one simulator
# (10,000 devices): wrk A (a cached devices(first: 50)) and B (the plan
# scenario with a random lastSessionBefore), ROUNDS rounds, old then new.
#   scripts/ab-bench.sh OLD_BINARY NEW_BINARY [ROUNDS]   (FIRST=500 for B at 500)
# FILTER=info logs as the default does (the script's default is error). The
# gateway's output goes through a pipe to a reader, as under a container
# runtime. OLD_DATE=NaiveDateTime for an old binary from
# before 2026-11-30 (B's variable type).
# Needs wrk and curl; works in ./ab-work.
set -u
OLD=$(realpath "$1"); NEW=$(realpath "$2"); ROUNDS=${3:-3}
mkdir -p ab-work && cd ab-work
TOKEN=ab-test-token-0123456789abcdef
HASH=$(printf %s "$TOKEN" | $NEW hash-token -)
$NEW simulate --port 19090 --devices 10000 --users 200 --api-key abkey > /dev/null 2>&1 &
SIM=$!
sleep 2
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
FIELDS="name machineId status os osVersion ip comment lastSessionAt lastSessionRaw"
mk_a() { cat > a.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"query":"query A { devices(first: 50) { totalCount edges { cursor node { $FIELDS } } pageInfo { hasNextPage endCursor } } }"}'
LUA
}
mk_b() { cat > b.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
local prefix = '{"query":"query B(\$before: $1!, \$first: Int!) { devices(first: \$first, filter: { status: OFFLINE, lastSessionBefore: \$before }, orderBy: { field: LAST_SESSION, direction: DESC }) { totalCount edges { cursor node { $FIELDS } } pageInfo { hasNextPage endCursor } } }","variables":{"first":${FIRST:-50},"before":"'
local start = os.time({year=2026, month=1, day=1, hour=0})
request = function()
  local at = start + math.random(0, 334 * 86400)
  return wrk.format(nil, nil, nil, prefix .. os.date("%Y-%m-%dT%H:%M:%S", at) .. '"}}')
end
LUA
}
mk_a
for round in $(seq 1 $ROUNDS); do
  for which in old new; do
    if [ $which = old ]; then BIN=$OLD; mk_b "${OLD_DATE:-DateTime}"; else BIN=$NEW; mk_b DateTime; fi
    rm -f ab.db*
    AB_KEY=abkey $BIN serve --config gw.toml 2>/dev/null > >(cat > /dev/null) &
    GW=$!
    for _ in $(seq 1 50); do curl -s -o /dev/null http://127.0.0.1:18080/healthz && break; sleep 0.2; done
    wrk -t2 -c64 -d2s -s a.lua http://127.0.0.1:18080/graphql > /dev/null
    wrk -t2 -c64 -d2s -s b.lua http://127.0.0.1:18080/graphql > /dev/null
    A=$(wrk -t2 -c64 -d6s -s a.lua http://127.0.0.1:18080/graphql | awk '/Requests\/sec/ {print $2}')
    B=$(wrk -t2 -c64 -d6s -s b.lua http://127.0.0.1:18080/graphql | awk '/Requests\/sec/ {print $2}')
    echo "round $round $which A $A B $B"
    kill $GW; wait $GW 2>/dev/null
  done
done
kill $SIM
