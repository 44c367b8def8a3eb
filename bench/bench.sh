#!/usr/bin/env bash
# Kept for the Makefile's current `bench` target; the suite is bench/run.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" "$@"
