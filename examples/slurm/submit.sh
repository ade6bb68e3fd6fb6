#!/usr/bin/env bash
# Submit a sharded evaluation: the job array of N shards (shard.sbatch, default N = 4) and the
# merge (merge.sbatch), which starts only once every shard has succeeded (afterok). Prints both
# job ids and how to follow them.
#
#   examples/slurm/submit.sh [N] [extra sbatch options for the shards, e.g. --cpus-per-task=4]
#
# The environment settings of shard.sbatch and merge.sbatch (TDSNN, TDSNN_ARGS, PARTS, OUT,
# DUMP) are passed on to the jobs; SHARDS is set to N. Run it from the directory where the
# logs and the relative paths should be. It refuses to start when $PARTS already holds
# partial reports (from an earlier run: remove them, or choose another PARTS).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
n=${1:-4}
shift || true
case "$n" in
  '' | *[!0-9]* | 0*) echo "submit.sh: the number of shards must be a positive integer, not '$n'" >&2; exit 2 ;;
esac
export SHARDS=$n
PARTS=${PARTS:-parts}
export PARTS

shopt -s nullglob
old=("$PARTS"/shard-*.json "$PARTS"/shard-*.npz)
if [ "${#old[@]}" != 0 ]; then
  echo "submit.sh: $PARTS already holds partial results (${old[*]}); remove them or set PARTS to another directory" >&2
  exit 2
fi
mkdir -p "$PARTS"

array=$(sbatch --parsable --array="0-$((n - 1))" "$@" "$here/shard.sbatch")
array=${array%%;*} # --parsable prints "id" or "id;cluster"
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=no "$here/merge.sbatch")
merge=${merge%%;*}

echo "array job: $array (shards 0-$((n - 1)) of $n, tasks ${array}_0 .. ${array}_$((n - 1)))"
echo "merge job: $merge (afterok:$array; writes ${OUT:-.}/report.json)"
cat <<MSG
Follow them with:
  squeue -j $array,$merge   (pending and running jobs; the reason a job waits)
  scontrol show job $array   (each task's JobState and ExitCode, kept a while after the end)
  scontrol show job $merge
Logs: tdsnn-shard-${array}_<task>.out and .err, tdsnn-merge-$merge.out and .err
If a shard fails, the merge stays pending (Reason=DependencyNeverSatisfied). Then, in this
directory and with the same TDSNN and TDSNN_ARGS: scancel $merge, rerun the shard (here 2),
  SHARDS=$n PARTS=$PARTS${DUMP:+ DUMP=$DUMP} sbatch --array=2 $here/shard.sbatch
and submit the merge again:
  PARTS=$PARTS${OUT:+ OUT=$OUT}${DUMP:+ DUMP=$DUMP} sbatch --dependency=afterok:<its job id> $here/merge.sbatch
MSG
