#!/bin/sh
# record.sh writes the event JSON it got on stdin and its environment into
# the directory named by $1, as <event>.json and <event>.env.
cat > "$1/$SPANO_EVENT.json"
env > "$1/$SPANO_EVENT.env"
