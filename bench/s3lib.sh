# The local S3 server of s3-put.sh and s3-upload.sh; they source it from
# the repository root, after setting dir (their work folder) and a trap
# that kills $pids. start_s3 ADDR runs versitygw on ADDR over $dir/s3
# with the keys exported here, adds its pid to pids, waits until it
# answers, and makes the bucket spano-bench.
export PATH="$PATH:$(go env GOPATH)/bin"
export S3_ACCESS_KEY=bench S3_SECRET_KEY=benchsecret$$
start_s3() {
	mkdir -p "$dir/s3"
	ROOT_ACCESS_KEY=$S3_ACCESS_KEY ROOT_SECRET_KEY=$S3_SECRET_KEY versitygw --port "$1" posix "$dir/s3" >"$dir/vgw.log" 2>&1 &
	pids="$pids $!"
	for _ in $(seq 100); do curl -s -o /dev/null "http://$1/" && break; sleep 0.1; done
	curl -sf -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -X PUT "http://$1/spano-bench"
}
