# Sourced by instructions.sh and memory.sh, in their work folder, with BIN
# (the gateway binary) set: writes gw.toml (a team `ab` with a quota that
# is never what is measured, snapshots kept 10 minutes, log filter
# $FILTER, default `error`) and drive.py (`python3 drive.py N a|b PORT
# [CODING]`: scenario A, a cached devices(first: 50), or B, a filtered
# page with new variables each request), then starts the simulator on
# port 19090 with ${DEVICES:-10000} devices and 10,000 users, stopped on
# exit. `answering PORT` waits (at most 150 s: valgrind starts slowly)
# until a server on PORT answers /healthz.
answering() {
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return
    sleep 0.5
  done
}
TOKEN=ab-test-token-0123456789abcdef
HASH=$(printf %s "$TOKEN" | $BIN hash-token -)
cat > gw.toml <<TOML
[server]
listen = "127.0.0.1:18080"
[log]
filter = "${FILTER:-error}"
[cache]
ttl = "10m"
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
n, which, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
coding = sys.argv[4] if len(sys.argv) > 4 else ""
fields = "name machineId status os osVersion ip comment lastSessionAt lastSessionRaw"
page = "{ totalCount edges { cursor node { %s } } pageInfo { hasNextPage endCursor } }" % fields
a = json.dumps({"query": "query A { devices(first: 50) %s }" % page})
b = ("query B($before: DateTime!, $first: Int!) { devices(first: $first, filter: { status: OFFLINE, "
     "lastSessionBefore: $before }, orderBy: { field: LAST_SESSION, direction: DESC }) %s }" % page)
connection = http.client.HTTPConnection("127.0.0.1", port)
for i in range(n):
    before = "2026-%02d-%02dT%02d:%02d:00" % (1 + i % 11, 1 + i % 28, i % 24, (i * 7) % 60)
    body = a if which == "a" else json.dumps({"query": b, "variables": {"first": 50, "before": before}})
    headers = {"Content-Type": "application/json",
               "Authorization": "Bearer ab-test-token-0123456789abcdef"}
    if coding:
        headers["Accept-Encoding"] = coding
    connection.request("POST", "/graphql", body, headers)
    answer = connection.getresponse()
    body = answer.read()
    assert answer.status == 200, answer.status
open("answer.bin", "wb").write(body)
PY
$BIN simulate --port 19090 --devices "${DEVICES:-10000}" --users 10000 --api-key abkey > /dev/null 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null' EXIT
sleep 1.5
