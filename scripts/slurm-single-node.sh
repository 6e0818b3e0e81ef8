#!/usr/bin/env bash
# A single-node Slurm on this machine (Debian's slurm-wlm and munge), for trying
# `bench run --executor slurm` without a cluster, and for CI.
#
#   scripts/slurm-single-node.sh start [--install]   configure and start munged, slurmctld, slurmd;
#                                                    waits up to 60 s for the node to be idle
#   scripts/slurm-single-node.sh stop                stop the daemons this script started
#
# Needs root. With --install, missing packages are installed with apt-get. Exit codes:
# 0 ready, 2 cannot start here (the reason is printed), 1 usage.
# No cgroups (proctrack/linuxproc, task/none), no accounting: it runs in containers too.
set -euo pipefail

STATE=${BENCH_SLURM_STATE:-/var/tmp/bench-slurm}
CONF_DIR=/etc/slurm
WAIT_S=${BENCH_SLURM_WAIT_S:-60}

cannot() { echo "slurm-single-node: cannot start Slurm here: $*" >&2; exit 2; }

start() {
  [ "$(id -u)" = 0 ] || cannot "needs root"
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    [ "${1:-}" = "--install" ] || cannot "slurm-wlm and munge are not installed (pass --install)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null \
      || cannot "apt-get install slurm-wlm munge failed"
  fi
  mkdir -p "$STATE"/{ctld,d,log} /etc/munge /run/munge /var/lib/munge /var/log/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
  chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key
  if ! pgrep -u munge -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged || cannot "munged did not start"
  fi
  munge -n | unmunge >/dev/null || cannot "munge cannot encode and decode a credential"

  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
  mkdir -p "$CONF_DIR"
  cat > "$CONF_DIR/slurm.conf" <<CONF
ClusterName=bench
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  pgrep -x slurmctld >/dev/null || slurmctld -i || cannot "slurmctld did not start (see $STATE/log/slurmctld.log)"
  pgrep -x slurmd >/dev/null || slurmd || cannot "slurmd did not start (see $STATE/log/slurmd.log)"
  local waited=0
  until sinfo -h -o %T 2>/dev/null | grep -qx idle; do
    sleep 1; waited=$((waited + 1))
    if [ "$waited" -ge "$WAIT_S" ]; then
      cannot "the node is not idle after ${WAIT_S} s: $(sinfo -h -o '%T %E' 2>&1 | head -1)"
    fi
  done
  echo "slurm-single-node: ready in ${waited} s: partition debug, node $host, $cpus CPUs"
}

stop() {
  for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
    [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  echo "slurm-single-node: stopped slurmd and slurmctld (munged left running)"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  *) echo "usage: $0 start [--install] | stop" >&2; exit 1 ;;
esac
