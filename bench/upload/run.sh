#!/bin/sh
# Upload throughput of spano against the floor (a handler that only spools,
# hashes and syncs the file), in the same run on the same machine: 400 KB
# JPEGs, thumbnails off, push off, durable commits. Prints p50/p90/p99 and
# uploads per second at 1 and 8 clients, twice, interleaved.
#
#   bench/upload/run.sh [SECONDS]
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-10}
work=$(mktemp -d)
pids=""
trap 'kill $pids 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/spano" ./cmd/spano
go build -o "$work/bench" ./bench/upload
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(df -T "$work" | awk 'NR==2{print $2}') at $work"

token=bench-token-0123456789
digest=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
cat >"$work/spano.yml" <<CFG
listen: "127.0.0.1:9201"
base_url: "http://127.0.0.1:9201"
data_dir: "$work/data"
site: {url: "http://127.0.0.1:9201", check_live: false}
repo: {push: "off"}
thumbnails: {widths: []}
ui: {enabled: false}
auth: {me: "http://127.0.0.1:9201/", discover: false, tokens: [{sha256: "$digest", scope: "media"}]}
log: {level: warn}
CFG
"$work/spano" serve -config "$work/spano.yml" 2>"$work/spano.log" </dev/null >/dev/null &
pids="$pids $!"
mkdir -p "$work/floor"
"$work/bench" -floor -listen 127.0.0.1:9202 -dir "$work/floor" </dev/null >/dev/null 2>&1 &
pids="$pids $!"
sleep 2
for round in 1 2; do
	for c in 1 8; do
		printf 'spano  '; "$work/bench" -endpoint http://127.0.0.1:9201/micropub/media -token "$token" -clients $c -duration ${secs}s
		printf 'floor  '; "$work/bench" -endpoint http://127.0.0.1:9202/ -clients $c -duration ${secs}s
	done
done
