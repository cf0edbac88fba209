#!/bin/bash
# resync's --version (its version and libresync's, from VERSION), and its
# option table (--long-options, --short-options) documented in doc/resync.md and
# offered by the bash completion, as libnbd's test-long-options.sh checks.
. "$(dirname "$0")/lib.bash"
check_options resync doc/resync.md
echo "resync's options are documented and completed"
