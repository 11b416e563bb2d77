#!/usr/bin/env bash
# minrl sweep against a real Slurm: starts a one-node cluster on this machine
# (Debian 12's Slurm 22.05 and munge, installed with apt-get when absent),
# submits a tiny sweep (2 datasets x 2 models x 1 seed, the shipped Pendulum
# data) with `minrl sweep slurm`, cancels one task mid-run (scancel) and
# requeues it (scontrol requeue) to prove that it resumes from its
# checkpoint, checks `minrl sweep status` and `minrl results`, and checks that
# `minrl sweep run --workers 2` gives byte-identical checkpoints. It stops the
# daemons it started (by pid) and touches no system Slurm configuration (its
# slurm.conf lives in a temporary directory, passed by SLURM_CONF).
#
# Needs root (the daemons run as root, munged as user munge). Without root or
# apt-get it says why and exits 0; with them any failure exits non-zero.
#
#   sudo bash scripts/slurm_test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

if [ "$(id -u)" -ne 0 ]; then
	echo "slurm test SKIPPED: needs root to start slurmctld, slurmd and munged"
	exit 0
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
	if ! command -v apt-get >/dev/null; then
		echo "slurm test SKIPPED: Slurm is not installed and apt-get is not available"
		exit 0
	fi
	export DEBIAN_FRONTEND=noninteractive
	pkgs=(slurmctld slurmd slurm-client munge)
	apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; }
fi
if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
	echo "slurm test: a slurmctld or slurmd runs on this machine already; not starting a second cluster" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/minrl-slurm.XXXXXX)
pids=()
munged_pid=""
cleanup() {
	local rc=$?
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [ -n "$munged_pid" ]; then kill "$munged_pid" 2>/dev/null || true; fi
	if [ $rc -ne 0 ]; then
		echo "--- slurmctld log"; tail -20 "$tmp/slurmctld.log" 2>/dev/null || true
		echo "--- slurmd log"; tail -20 "$tmp/slurmd.log" 2>/dev/null || true
		for f in "$tmp"/slurm-out/logs/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT

# munge: the key, then munged as user munge (unless one runs already).
if [ ! -s /etc/munge/munge.key ]; then
	dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
	mkdir -p /run/munge /var/lib/munge /var/log/munge
	chown munge:munge /run/munge /var/lib/munge /var/log/munge
	runuser -u munge -- /usr/sbin/munged
	for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
	munged_pid=$(cat /run/munge/munged.pid)
fi

host=$(hostname -s)
cpus=$(nproc)
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512))
mkdir -p "$tmp/ctld" "$tmp/d"
export SLURM_CONF=$tmp/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=minrltest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
StateSaveLocation=$tmp/ctld
SlurmdSpoolDir=$tmp/d
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
SchedulerParameters=sched_interval=1
KillWait=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=minrl Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
/usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >/dev/null 2>&1 &
pids+=($!)
sleep 1
/usr/sbin/slurmd -D -f "$SLURM_CONF" >/dev/null 2>&1 &
pids+=($!)
for i in $(seq 100); do
	if sinfo -h -o %t 2>/dev/null | grep -qx idle; then break; fi
	[ "$i" -eq 100 ] && { echo "the node never came up idle"; sinfo || true; exit 1; }
	sleep 0.2
done
echo "slurm: one-node cluster up in $((SECONDS - start)) s ($cpus CPUs): $(sinfo -h -o '%P %D %t')"

# The binary and the sweep. Each run is long enough (a few seconds) for the
# test to cancel one mid-run.
CGO_ENABLED=0 go build -o "$tmp/minrl" ./cmd/minrl
minrl=$tmp/minrl
cat >"$tmp/sweep.yaml" <<EOF
name: slurmtest
out: $tmp/slurm-out
set:
  model: {embed: 32, layers: 2, k: 10, dropout: 0.1}
  train: {steps: 300, batch: 16, warmup: 30, eval_every: 150, checkpoint_every: 25, log_every: 5}
  eval.episodes: 2
grid:
  seed: [7]
  dataset: [pendulum-medium, pendulum-expert]
  model: [mingru, dt]
EOF
"$minrl" sweep plan "$tmp/sweep.yaml"
"$minrl" sweep slurm "$tmp/sweep.yaml" --cpus-per-task 1 --dry-run >"$tmp/dry.sbatch"
grep -q -- '--array=0-3' "$tmp/dry.sbatch" || { echo "dry run: no --array=0-3"; cat "$tmp/dry.sbatch"; exit 1; }
submit=$("$minrl" sweep slurm "$tmp/sweep.yaml" --cpus-per-task 1 --time 10:00)
echo "$submit"
job=$(sed -n 's/^submitted job array \([0-9]*\):.*/\1/p' <<<"$submit")
[ -n "$job" ] || { echo "no job id in: $submit"; exit 1; }

# Cancel task 0 once it has logged step 50 of 300 (checkpoint at 50), then requeue it.
victim=$tmp/slurm-out/runs/pendulum-medium-mingru-s7
for i in $(seq 600); do
	step=$(tail -1 "$victim/metrics.jsonl" 2>/dev/null | sed -n 's/.*"step":\([0-9]*\).*/\1/p' || true)
	if [ -n "$step" ] && [ "$step" -ge 50 ]; then break; fi
	[ "$i" -eq 600 ] && { echo "task 0 never reached step 50"; squeue || true; exit 1; }
	sleep 0.1
done
scancel "${job}_0"
for i in $(seq 300); do
	squeue -h -j "${job}_0" -t R,CG 2>/dev/null | grep -q . || break
	[ "$i" -eq 300 ] && { echo "task 0 did not stop"; exit 1; }
	sleep 0.1
done
if [ -f "$victim/summary.json" ]; then echo "task 0 finished before scancel reached it: make the runs longer"; exit 1; fi
status=$("$minrl" sweep status "$tmp/sweep.yaml")
echo "$status"
grep -E '^0 +pendulum-medium-mingru-s7 +interrupted' <<<"$status" >/dev/null || { echo "task 0 is not interrupted after scancel"; exit 1; }
scontrol requeue "${job}_0"
# Slurm holds a requeued job back for a while (its BeginTime); release it now.
scontrol update JobId="${job}_0" StartTime=now
echo "cancelled task 0 at step $step of 300 and requeued it ($((SECONDS - start)) s)"

# Wait for the whole array.
for i in $(seq 1800); do
	[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
	[ "$i" -eq 1800 ] && { echo "the array did not finish in 3 minutes"; squeue; exit 1; }
	sleep 0.1
done
status=$("$minrl" sweep status "$tmp/sweep.yaml")
echo "$status"
grep -q '^4 runs: 4 done$' <<<"$status" || { echo "not every run is done"; exit 1; }
resumed=$(sed -n 's/.*"resumed_from": \([0-9]*\).*/\1/p' "$victim/summary.json")
[ "${resumed:-0}" -gt 0 ] || { echo "the requeued run did not resume (resumed_from ${resumed:-absent})"; exit 1; }
grep -q "resuming .* at step $resumed of 300" "$tmp"/slurm-out/logs/slurm-"${job}"_0.log || { echo "no resume line in the task's log"; exit 1; }
echo "task 0 resumed at step $resumed after the requeue ($((SECONDS - start)) s)"
table=$("$minrl" results "$tmp/sweep.yaml")
echo "$table" | head -8
grep -q '| dataset | data | dt | mingru |' <<<"$table" || { echo "results table lacks the dt and mingru columns"; exit 1; }
grep -Eq '^\| pendulum-medium \|.*\(1\) \|.*\(1\) \|$' <<<"$table" || { echo "results table lacks pendulum-medium with one seed per model"; exit 1; }

# The same sweep on a local pool: the same checkpoints, byte for byte.
local_start=$SECONDS
"$minrl" sweep run "$tmp/sweep.yaml" --workers 2 --out "$tmp/local-out" >/dev/null
for d in "$tmp"/slurm-out/runs/*/; do
	name=$(basename "$d")
	for f in last.safetensors best.safetensors; do
		cmp "$d/$f" "$tmp/local-out/runs/$name/$f" || { echo "$name/$f differs between Slurm and the local pool"; exit 1; }
	done
done
echo "local pool: $((SECONDS - local_start)) s"
echo "slurm test passed in $((SECONDS - start)) s: 4 runs through a job array (one cancelled, requeued and resumed), the same checkpoints as minrl sweep run --workers 2"
