#!/usr/bin/env bash
# Submits the nightly GPU regression to Slurm: one array task per shard of the paper profile's grid, then a merge,
# report and comparison job that starts when every shard has ended (afterany: a failed shard leaves its runs out of
# the store, and the merge job reports them as missing instead of never running).
#
#   REPRO_MODELS=/models REPRO_DATA=/data REPRO_TASKS=/tasks tools/nightly/slurm/submit.sh [SHARDS] [sbatch options...]
#
# Run from the repository root of a checkout on shared storage; results land in out/nightly/ there.
set -euo pipefail
shards="${1:-4}"
shift || true
case "$shards" in
  '' | *[!0-9]* | 0) echo "submit.sh: SHARDS must be a positive whole number, not '$shards'" >&2; exit 2 ;;
esac
for variable in REPRO_MODELS REPRO_DATA REPRO_TASKS; do
  if [ -z "${!variable:-}" ]; then echo "submit.sh: $variable is not set (see README, Nightly GPU regression)" >&2; exit 2; fi
done
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
mkdir -p "$root/out/nightly/logs"
array=$(sbatch --parsable --chdir="$root" --array="1-$shards" --export=ALL,SHARDS="$shards" "$@" "$here/shard.sbatch")
merge=$(sbatch --parsable --chdir="$root" --dependency="afterany:${array%%;*}" --export=ALL "$@" "$here/merge.sbatch")
echo "submitted shards as job $array (1-$shards) and the merge as job $merge; logs in out/nightly/logs"
