#!/bin/sh
# Upload throughput of spano against the floor (a handler that only spools,
# hashes and syncs the file), in the same run on the same machine: 400 KB
# JPEGs, thumbnails off, push off, durable commits. Prints p50/p90/p99 and
# uploads per second at 1 and 8 clients, twice, interleaved.
#
#   bench/upload/run.sh [SECONDS]
#
# With BASE=DIR (a source tree of spano, e.g. an earlier commit unpacked
# with git archive) that build runs too, as "base", in the same rounds.
set -eu
secs=${1:-10}
. "$(dirname "$0")/common.sh"

# config NAME PORT writes the configuration of one spano server.
config() {
	cat >"$work/$1.yml" <<CFG
listen: "127.0.0.1:$2"
base_url: "http://127.0.0.1:$2"
data_dir: "$work/data-$1"
site: {url: "http://127.0.0.1:$2", check_live: false}
repo: {push: "off"}
thumbnails: {widths: []}
ui: {enabled: false}
auth: {me: "http://127.0.0.1:$2/", discover: false, tokens: [{sha256: "$digest", scope: "media"}]}
log: {level: warn}
CFG
}
config spano 9201
"$work/spano" serve -config "$work/spano.yml" 2>"$work/spano.log" </dev/null >/dev/null &
pids="$pids $!"
if [ -n "${BASE:-}" ]; then
	(cd "$BASE" && go build -o "$work/base" ./cmd/spano)
	config base 9203
	"$work/base" serve -config "$work/base.yml" 2>"$work/base.log" </dev/null >/dev/null &
	pids="$pids $!"
fi
mkdir -p "$work/floor"
"$work/bench" -floor -listen 127.0.0.1:9202 -dir "$work/floor" </dev/null >/dev/null 2>&1 &
pids="$pids $!"
sleep 2
for round in 1 2; do
	for c in 1 8; do
		printf 'spano  '; "$work/bench" -endpoint http://127.0.0.1:9201/micropub/media -token "$token" -clients $c -duration ${secs}s
		printf 'floor  '; "$work/bench" -endpoint http://127.0.0.1:9202/ -clients $c -duration ${secs}s
		if [ -n "${BASE:-}" ]; then
			printf 'base   '; "$work/bench" -endpoint http://127.0.0.1:9203/micropub/media -token "$token" -clients $c -duration ${secs}s
		fi
	done
done
