#!/bin/sh
# Side-by-side thumbnail benchmark, all on files made here:
#   1. thumbs.Make against sharp (libvips) and against image/jpeg.Decode
#      alone (the floor) on the same generated 4000×3000 JPEG, widths
#      320/640/1280, interleaved so that background load hits all alike;
#   2. peak RSS of 8 concurrent Makes of that JPEG, baseline and
#      progressive (sharp re-encodes the photo progressive for that);
#   3. WebP and AVIF 1280 variants: gen2brain's encoders against cwebp
#      and avifenc (Debian: webp, libavif-bin) on the same 1280×960 PNG.
# Run from anywhere; needs go, node and npm; cwebp and avifenc for the
# parts that use them (skipped when missing).
#
#   bench/thumbs/run.sh [RUNS]
set -eu
cd "$(dirname "$0")"
runs=${1:-20}
photo=photo-4000x3000.jpg   # generated files: ignored by .gitignore
prog=photo-4000x3000-progressive.jpg
small=photo-1280x960.png

echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p')"
[ -d node_modules/sharp ] || npm install --no-audit --no-fund
go build -o thumbsbench .
[ -f "$photo" ] || ./thumbsbench -gen "$photo"
echo "photo: $photo, $(wc -c <"$photo") bytes"
echo

for round in 1 2; do
	./thumbsbench -time "$photo" -runs "$runs"
	./thumbsbench -decode "$photo" -runs "$runs"
	node sharp.mjs "$photo" "$runs"
done
echo

./thumbsbench -rss "$photo" -concurrent 8
./thumbsbench -rss "$photo" -concurrent 32
./thumbsbench -rss "$photo" -concurrent 8 -decode-memory 50331648
[ -f "$prog" ] || node -e "require('sharp')(process.argv[1]).jpeg({quality: 90, progressive: true}).toFile(process.argv[2])" "$photo" "$prog"
./thumbsbench -rss "$prog" -concurrent 8
./thumbsbench -time "$prog" -runs 5
echo

[ -f "$small" ] || ./thumbsbench -gen-png "$small"
erun=$(( runs / 4 + 1 ))
./thumbsbench -encode "$small" -format webp -runs "$erun"
./thumbsbench -time "$photo" -widths 1280 -formats webp -runs "$erun"
if command -v cwebp >/dev/null; then
	# Process start and PNG decode included, which favours thumbs a little.
	t0=$(date +%s%N)
	for i in $(seq "$erun"); do cwebp -quiet -q 82 -m 4 "$small" -o /tmp/thumbsbench.webp; done
	t1=$(date +%s%N)
	echo "cwebp $(cwebp -version) -q 82 -m 4: mean $(( (t1 - t0) / erun / 1000000 )) ms over $erun runs, $(wc -c </tmp/thumbsbench.webp) bytes"
fi
./thumbsbench -encode "$small" -format avif -runs "$erun"
if command -v avifenc >/dev/null; then
	# gen2brain's quality 60 is quantizer 25 (libavif's mapping).
	t0=$(date +%s%N)
	for i in $(seq "$erun"); do avifenc -s 10 --min 25 --max 25 "$small" /tmp/thumbsbench.avif >/dev/null; done
	t1=$(date +%s%N)
	echo "avifenc $(avifenc --version | sed -n 's/^Version: \([^ ]*\).*/\1/p') -s 10 q25: mean $(( (t1 - t0) / erun / 1000000 )) ms over $erun runs, $(wc -c </tmp/thumbsbench.avif) bytes"
fi
rm -f thumbsbench /tmp/thumbsbench.webp /tmp/thumbsbench.avif
