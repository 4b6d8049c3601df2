#!/usr/bin/env bash
# One $1 MB (default 300) file put to a local versitygw through
# objstore.Put (spano's defaults: 16 MiB parts, 4 in flight) and through a
# minimal plain minio-go PutObject (its defaults: 16 MiB parts, 4 in
# flight), with signed chunks (as over http://) and unsigned (as over
# https://), alternating, $2 runs each (default 3), each in its own
# process: wall time and peak RSS.
set -euo pipefail
mb=${1:-300}
runs=${2:-3}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
pids=""
trap 'kill $pids 2>/dev/null; rm -rf "$dir"' EXIT
. bench/s3lib.sh
addr=127.0.0.1:$((20000 + $$ % 20000))
start_s3 "$addr"
go build -o "$dir/s3put" ./bench/s3put
for i in $(seq "$runs"); do
	head -c $((mb * 1000 * 1000)) /dev/urandom >"$dir/f.mp4" # new bytes: a new key for spano
	cat "$dir/f.mp4" >/dev/null                                # both start from the page cache
	"$dir/s3put" -mode plain -file "$dir/f.mp4" -addr "$addr"
	"$dir/s3put" -mode plain-unsigned -file "$dir/f.mp4" -addr "$addr"
	"$dir/s3put" -mode spano -file "$dir/f.mp4" -addr "$addr" -sha256 "$(sha256sum "$dir/f.mp4" | cut -d' ' -f1)"
	rm -rf "$dir/s3/spano-bench/"* # keep the disk small
done
