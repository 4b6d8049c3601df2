#!/usr/bin/env bash
# One $1 MB (default 300) video uploaded through the spano binary with
# object storage (a local versitygw), against a plain minio-go put of the
# same file from disk (bench/s3put -mode plain), and the same size
# uploaded into the repository (no object storage) for the commit stage.
# Prints, from spano's debug "upload stages" line, the time from the last
# byte received to the 201 (every stage after spool), the whole upload as
# curl saw it, the commit stage of each, and spano's peak RSS (VmHWM).
set -euo pipefail
mb=${1:-300}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
pids=""
trap 'kill $pids 2>/dev/null; rm -rf "$dir"' EXIT
. bench/s3lib.sh
s3=127.0.0.1:$((20000 + $$ % 20000))
web=127.0.0.1:$((40000 + $$ % 20000))
start_s3 "$s3"
go build -o "$dir/s3put" ./bench/s3put
go build -o "$dir/spano" ./cmd/spano
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'); file: $mb MB"

token=bench-token-0123456789
digest=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
video() { # an MP4 as its boxes go: ftyp, then an mdat of random bytes
	local n=$((mb * 1000 * 1000 - 24))
	printf '\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom' >"$1"
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((n >> 24 & 255)) $((n >> 16 & 255)) $((n >> 8 & 255)) $((n & 255)))mdat" >>"$1"
	head -c $((n - 8)) /dev/urandom >>"$1"
}
run() { # name, extra config
	local name=$1 extra=$2 data="$dir/$1"
	cat >"$dir/$name.yml" <<CFG
listen: "$web"
base_url: "http://$web"
data_dir: "$data"
site: {url: "http://$web", check_live: false}
repo: {push: "off", max_file_size: "1GB"}
media: {max_size: "1GB"}
thumbnails: {widths: []}
video: {ffmpeg: ""}
ui: {enabled: false}
auth: {me: "http://$web/", discover: false, tokens: [{sha256: "$digest", scope: "media"}]}
log: {level: debug}
$extra
CFG
	"$dir/spano" serve -config "$dir/$name.yml" 2>"$dir/$name.log" </dev/null >/dev/null &
	local pid=$!
	for _ in $(seq 100); do curl -s -o /dev/null "http://$web/healthz" && break; sleep 0.1; done
	video "$dir/f.mp4"
	cat "$dir/f.mp4" >/dev/null
	local total
	total=$(curl -s -o "$dir/$name.json" -w '%{time_total}' -H "Authorization: Bearer $token" \
		-F "file=@$dir/f.mp4;type=video/mp4" "http://$web/micropub/media")
	local hwm
	hwm=$(awk '/VmHWM/{print $2/1024 " MB"}' "/proc/$pid/status")
	kill "$pid"; wait "$pid" 2>/dev/null || true
	local stages
	stages=$(grep 'upload stages' "$dir/$name.log" | tail -1 | grep -o ' [a-z]*=[0-9.]*[µm]*s' | tr '\n' ' ')
	echo "$name: whole upload ${total}s; stages:$stages; peak RSS $hwm; answer: $(head -c 110 "$dir/$name.json")…"
	if [ "$name" = offloaded ]; then
		"$dir/s3put" -mode plain -file "$dir/f.mp4" -addr "$s3"
	fi
	rm -rf "$data" "$dir/s3/spano-bench/"*
}
run offloaded "storage: {s3: {endpoint: \"http://$s3\", region: \"us-east-1\", bucket: spano-bench, prefix: media,
  access_key: \"$S3_ACCESS_KEY\", secret_key: \"$S3_SECRET_KEY\", public_url: \"http://cdn.invalid/media\"},
  offload: {min_size: \"20MB\", types: [\"video/*\"]}}"
run in-repo ""
