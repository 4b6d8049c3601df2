#!/bin/sh
# Side-by-side thumbnail benchmark: thumbs.Make against sharp (libvips) on
# the same generated 4000×3000 JPEG, widths 320/640/1280, then the peak RSS
# of concurrent Make calls. Run from anywhere; needs go, node and npm.
#
#   bench/thumbs/run.sh [RUNS]
set -eu
cd "$(dirname "$0")"
runs=${1:-20}
photo=photo-4000x3000.jpg   # ignored by .gitignore

echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p')"
[ -d node_modules/sharp ] || npm install --no-audit --no-fund
go build -o thumbsbench .
[ -f "$photo" ] || ./thumbsbench -gen "$photo"
echo "photo: $photo, $(wc -c <"$photo") bytes"
echo

# Interleave the two so that background load hits both alike.
for round in 1 2; do
	./thumbsbench -time "$photo" -runs "$runs"
	node sharp.mjs "$photo" "$runs"
done
echo

for spec in "8 0" "8 8" "32 0"; do
	set -- $spec
	./thumbsbench -rss "$photo" -concurrent "$1" -max-decodes "$2"
done
rm -f thumbsbench
