#!/bin/sh
# veto.sh rejects an upload whose spooled file holds the test signature, the
# way a virus scanner does: a verdict on stderr and a non-zero exit.
if grep -q 'SPANO-TEST-SIGNATURE' "$SPANO_FILE"; then
	echo "infected: Spano.Test.Signature" >&2
	echo "1 file scanned, 1 infected" >&2
	exit 1
fi
echo "clean"
exit 0
