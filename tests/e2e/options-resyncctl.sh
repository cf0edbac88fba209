#!/bin/bash
# resyncctl's --version (its version and libresync's, from VERSION), and its
# option table (--long-options, --short-options) documented in doc/resyncctl.md and
# offered by the bash completion, as libnbd's test-long-options.sh checks.
. "$(dirname "$0")/lib.bash"
check_options resyncctl doc/resyncctl.md
echo "resyncctl's options are documented and completed"
