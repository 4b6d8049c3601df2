#!/bin/sh
# Uploads with push sync: 32 clients each upload 8 distinct ~50 KB PNGs
# (640x480, so thumbnails are made: the default widths) into a site
# repository of 20,000 files, pushed to a bare remote on local disk. A
# push costs ~130 ms here, so the rate depends on each push carrying many
# commits: the script prints the pushes and commits spano counted.
#
#   bench/upload/push.sh [FILES]
set -eu
files=${1:-20000}
. "$(dirname "$0")/common.sh"

# The remote: one commit of $files small files in the sharded layout.
git init -q --bare -b main "$work/remote.git"
awk -v n="$files" 'BEGIN {
	print "commit refs/heads/main"
	print "committer Seed <seed@example.com> 1700000000 +0000"
	print "data 5\nseed"
	for (i = 0; i < n; i++) {
		h = sprintf("%08x%056d", (i * 2654435761) % 4294967296, i)
		c = "file " i
		printf "M 100644 inline media/%s/%s/%s.jpg\ndata %d\n%s\n", substr(h, 1, 2), substr(h, 3, 2), h, length(c), c
	}
}' | git -C "$work/remote.git" fast-import --quiet

cat >"$work/spano.yml" <<CFG
listen: "127.0.0.1:9204"
base_url: "http://127.0.0.1:9204"
data_dir: "$work/data"
site: {url: "http://127.0.0.1:9204", check_live: false}
repo: {remote: "$work/remote.git", push: "sync"}
ui: {enabled: false}
auth: {me: "http://127.0.0.1:9204/", discover: false, tokens: [{sha256: "$digest", scope: "media"}]}
log: {level: warn}
CFG
"$work/spano" serve -config "$work/spano.yml" 2>"$work/spano.log" </dev/null >/dev/null &
pids="$pids $!"
for i in $(seq 100); do
	curl -fs -o /dev/null "http://127.0.0.1:9204/metrics" && break
	sleep 0.2
done
"$work/bench" -endpoint http://127.0.0.1:9204/micropub/media -token "$token" -png -size 50000 -clients 32 -count 8
curl -fs "http://127.0.0.1:9204/metrics" | grep -E '^spano_(pushes|commits|pushed_commits)_total|^spano_upload_stage_seconds_(sum|count)'
echo "remote: $(git -C "$work/remote.git" rev-list --count main) commits"
grep -v '^$' "$work/spano.log" | tail -5 || true
