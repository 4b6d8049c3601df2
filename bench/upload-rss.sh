#!/usr/bin/env bash
# Peak memory of the spano binary for one large upload, end to end: a
# 300 MB (or $1 MB) MP4 posted with curl, spooled, hashed, sniffed, GPS
# checked, committed and pushed (sync) to a bare remote on disk. Prints
# spano's peak RSS (VmHWM) and the upload's wall time, and beside it the
# wall time of the git CLI adding, committing and pushing the same file.
set -euo pipefail
mb=${1:-300}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

go build -o "$dir/spano" ./cmd/spano
git init -q --bare -b main "$dir/remote.git"

# An MP4: an ftyp box, then one mdat box holding random bytes.
size=$((mb * 1000 * 1000))
{
	printf '\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41'
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(((size + 8) >> 24 & 255)) $(((size + 8) >> 16 & 255)) $(((size + 8) >> 8 & 255)) $(((size + 8) & 255)))mdat"
	head -c "$size" /dev/urandom
} >"$dir/video.mp4"

token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
sha=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
cat >"$dir/config.yml" <<EOF
listen: "127.0.0.1:0"
base_url: "http://127.0.0.1"
data_dir: "$dir/data"
site: {url: "https://example.com"}
repo: {remote: "$dir/remote.git", push: sync}
media: {max_size: "$((mb + 10))MB"}
auth:
  me: "https://example.com/"
  discover: false
  tokens: [{sha256: "$sha", scope: "media"}]
EOF
"$dir/spano" serve -config "$dir/config.yml" 2>"$dir/log" &
pid=$!
for _ in $(seq 100); do
	addr=$(grep -o 'addr=[0-9.:]*' "$dir/log" | head -1 | cut -d= -f2) && [ -n "$addr" ] && break
	sleep 0.1
done
start=$(date +%s.%N)
code=$(curl -s -o "$dir/out" -w '%{http_code}' -H "Authorization: Bearer $token" -F "file=@$dir/video.mp4" "http://$addr/micropub/media")
end=$(date +%s.%N)
[ "$code" = 201 ] || { echo "upload failed: $code $(cat "$dir/out")"; tail "$dir/log"; exit 1; }
hwm=$(grep VmHWM /proc/$pid/status | awk '{print $2}')
printf 'spano: %d MB upload, commit and sync push: %.1f s, peak RSS %d MB\n' "$mb" "$(echo "$end - $start" | bc)" $((hwm / 1024))

# Baseline: the git CLI doing the same commit and push.
git init -q --bare -b main "$dir/remote2.git"
git clone -q "$dir/remote2.git" "$dir/work" 2>/dev/null
mkdir -p "$dir/work/media"
start=$(date +%s.%N)
cp "$dir/video.mp4" "$dir/work/media/video.mp4"
git -C "$dir/work" add media/video.mp4
git -C "$dir/work" -c user.name=b -c user.email=b@b commit -q -m add
git -C "$dir/work" push -q origin HEAD:main
end=$(date +%s.%N)
printf 'git CLI: copy, add, commit, push: %.1f s\n' "$(echo "$end - $start" | bc)"
