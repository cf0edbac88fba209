#!/bin/bash
# resync-bitmap's --version (its version and libresync's, from VERSION), and its
# option table (--long-options, --short-options) documented in doc/resync-bitmap.md and
# offered by the bash completion, as libnbd's test-long-options.sh checks.
. "$(dirname "$0")/lib.bash"
check_options resync-bitmap doc/resync-bitmap.md
echo "resync-bitmap's options are documented and completed"
