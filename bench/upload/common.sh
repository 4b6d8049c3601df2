# What run.sh and push.sh begin with; they source it: from the repository
# root, a work folder removed at exit (with the servers started into
# $pids), spano and the load generator built into it, the machine named,
# and the token the servers accept.
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
pids=""
trap 'kill $pids 2>/dev/null; wait; rm -rf "$work"' EXIT
go build -o "$work/spano" ./cmd/spano
go build -o "$work/bench" ./bench/upload
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(df -T "$work" | awk 'NR==2{print $2}') at $work"
token=bench-token-0123456789
digest=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
