#!/usr/bin/env bash
# Runs a real S3 server (versitygw, posix backend) on loopback for trying
# spano's object storage locally, and makes a bucket in it:
#
#   bench/s3-server.sh [DIR] [ADDR] [BUCKET]
#
# DIR (default ./spano-data/s3) holds the buckets as plain folders; ADDR
# defaults to 127.0.0.1:7070, BUCKET to "media". The keys come from
# $SPANO_S3_ACCESS_KEY / $SPANO_S3_SECRET_KEY; unset, they are made up and
# written to DIR/keys.env (mode 0600) for `. DIR/keys.env`. Point storage.s3 at it with endpoint http://ADDR (http is
# accepted on loopback only), region us-east-1. Install the server with
#   go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
# It runs in the foreground; Ctrl-C stops it.
set -euo pipefail
dir=${1:-./spano-data/s3}
addr=${2:-127.0.0.1:7070}
bucket=${3:-media}
export PATH="$PATH:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
command -v versitygw >/dev/null || {
	echo "versitygw not found: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0" >&2
	exit 1
}
# Keys from an earlier run, so the same data stays readable.
[ -z "${SPANO_S3_ACCESS_KEY:-}" ] && [ -r "$dir/keys.env" ] && . "$dir/keys.env"
: "${SPANO_S3_ACCESS_KEY:=spano$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
: "${SPANO_S3_SECRET_KEY:=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
mkdir -p "$dir"
ROOT_ACCESS_KEY=$SPANO_S3_ACCESS_KEY ROOT_SECRET_KEY=$SPANO_S3_SECRET_KEY versitygw --port "$addr" posix "$dir" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
	curl -s -o /dev/null "http://$addr/" && break
	sleep 0.1
done
# Make the bucket (a signed PUT /bucket, with the empty body's SHA-256); it
# may exist from an earlier run.
curl -s -o /dev/null -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" --aws-sigv4 "aws:amz:us-east-1:s3" \
	--user "$SPANO_S3_ACCESS_KEY:$SPANO_S3_SECRET_KEY" -X PUT "http://$addr/$bucket" || true
echo "S3 server on http://$addr, bucket $bucket, data in $dir"
if [ ! -e "$dir/keys.env" ]; then
	(umask 077 && printf 'export SPANO_S3_ACCESS_KEY=%s SPANO_S3_SECRET_KEY=%s\n' \
		"$SPANO_S3_ACCESS_KEY" "$SPANO_S3_SECRET_KEY" >"$dir/keys.env")
fi
echo "keys: . $dir/keys.env"
wait $pid
