#!/bin/bash
# A real single-node SLURM on localhost, to try the job scripts in slurm/ on a laptop or in CI.
#
#   slurm/local_cluster.sh install   # apt-get install the Debian/Ubuntu packages (needs root)
#   slurm/local_cluster.sh start     # munged + slurmctld + slurmd; prints `export SLURM_CONF=...`
#   slurm/local_cluster.sh status    # daemons and sinfo
#   slurm/local_cluster.sh stop      # cancels the jobs, stops the daemons (safe to call twice)
#
# Everything (config, munge key and socket, state, spool, logs, pid files) lives in one folder, so
# it never touches /etc/slurm or a system munged. No systemd needed; run it as root, because
# slurmd starts jobs as their owner. Settings (environment variables, with defaults):
#   ZOORANK_SLURM_DIR        state folder                   /tmp/zoorank-slurm
#   ZOORANK_SLURMCTLD_PORT   slurmctld port on 127.0.0.1     6817
#   ZOORANK_SLURMD_PORT      slurmd port on 127.0.0.1        6818
#   ZOORANK_SLURM_CPUS       CPUs the node offers            $(nproc)
#   ZOORANK_SLURM_CRED_EXPIRE  credential lifetime in s; a requeued job waits this long   10
set -euo pipefail

DIR=$(realpath -m "${ZOORANK_SLURM_DIR:-/tmp/zoorank-slurm}")
CTLD_PORT=${ZOORANK_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${ZOORANK_SLURMD_PORT:-6818}
CPUS=${ZOORANK_SLURM_CPUS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}  # nproc obeys OMP_NUM_THREADS
CRED_EXPIRE=${ZOORANK_SLURM_CRED_EXPIRE:-10}
CONF=$DIR/slurm.conf
SOCKET=$DIR/munge/munge.socket
APT_LINE="apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge"
export SLURM_CONF=$CONF

say() { echo "local_cluster: $*"; }
die() { echo "local_cluster: error: $*" >&2; exit 1; }

# pid from a pid file if that process is alive, else nothing
alive_pid() {
    local pid
    [[ -s $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s until it succeeds
wait_for() {
    local seconds=$1 what=$2 i
    shift 2
    for ((i = 0; i < seconds * 5; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "local_cluster: error: timed out after ${seconds}s waiting for $what; last log lines:" >&2
    tail -n 15 "$DIR"/log/*.log >&2 2>/dev/null || true
    exit 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
node_idle() { [[ $(sinfo -h -n localhost -o %t 2>/dev/null) == idle* ]]; }

write_config() {
    cat >"$CONF" <<EOF
# Written by slurm/local_cluster.sh: a single-node cluster on 127.0.0.1, all state under $DIR
ClusterName=zoorank-local
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
CommunicationParameters=NoCtldInAddrAny
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again (default 120 s)
AuthInfo=socket=$SOCKET,cred_expire=$CRED_EXPIRE
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups needed (containers, laptops)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# start jobs at once, and look at pending (e.g. requeued) jobs every second, not every 30-60 s
SchedulerParameters=batch_sched_delay=0,sched_interval=1,bf_interval=1
# finished jobs stay visible to scontrol for MinJobAge seconds; requeue allowed
MinJobAge=3600
JobRequeue=1
ReturnToService=2
KillWait=10
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

cmd_install() {
    apt-get update
    $APT_LINE
}

cmd_start() {
    local bin
    for bin in munged mungekey slurmctld slurmd sinfo scontrol; do
        command -v "$bin" >/dev/null || [[ -x /usr/sbin/$bin ]] ||
            die "$bin not found; install SLURM with: $APT_LINE"
    done
    PATH=$PATH:/usr/sbin
    [[ $(id -u) == 0 ]] || die "run as root (slurmd starts jobs as their owner)"
    if alive_pid "$DIR/run/slurmctld.pid" >/dev/null; then
        say "already running in $DIR"
        echo "export SLURM_CONF=$CONF"
        return 0
    fi
    for port in "$CTLD_PORT" "$SLURMD_PORT"; do
        port_in_use "$port" && die "port $port on 127.0.0.1 is taken; set ZOORANK_SLURMCTLD_PORT / ZOORANK_SLURMD_PORT"
    done

    mkdir -p "$DIR"/{munge,state,spool,run,log}
    chmod 755 "$DIR/munge"  # the key inside is 0600; clients need to reach the socket
    write_config

    # a private munged: its own key and socket, not /etc/munge and /run/munge
    [[ -s $DIR/munge/munge.key ]] || mungekey --create --keyfile="$DIR/munge/munge.key"
    chmod 600 "$DIR/munge/munge.key"
    say "starting munged"
    munged --force --socket="$SOCKET" --key-file="$DIR/munge/munge.key" --pid-file="$DIR/run/munged.pid" \
        --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed" </dev/null >/dev/null 2>&1
    wait_for 10 "munged" test -S "$SOCKET"

    say "starting slurmctld on 127.0.0.1:$CTLD_PORT"
    slurmctld -f "$CONF" </dev/null >>"$DIR/log/slurmctld.out" 2>&1
    wait_for 30 "slurmctld" scontrol ping

    say "starting slurmd on 127.0.0.1:$SLURMD_PORT"
    slurmd -f "$CONF" -N localhost </dev/null >>"$DIR/log/slurmd.out" 2>&1
    wait_for 30 "node localhost to become idle" node_idle

    sinfo
    say "up; for sbatch/srun/squeue/scontrol in this shell run:"
    echo "export SLURM_CONF=$CONF"
}

stop_daemon() {  # stop_daemon NAME: TERM by pid file, KILL after 10 s
    local name=$1 pid i
    pid=$(alive_pid "$DIR/run/$name.pid") || { say "$name not running"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/run/$name.pid"
    say "stopped $name (pid $pid)"
}

cmd_stop() {
    PATH=$PATH:/usr/sbin
    if alive_pid "$DIR/run/slurmctld.pid" >/dev/null && [[ -f $CONF ]]; then
        # cancel what is still queued or running, so no job steps outlive the daemons
        local jobs i
        mapfile -t jobs < <(squeue -h -o %A 2>/dev/null)
        if [[ ${#jobs[@]} -gt 0 ]]; then
            say "cancelling jobs: ${jobs[*]}"
            scancel "${jobs[@]}" 2>/dev/null || true
            for ((i = 0; i < 75; i++)); do
                [[ -z $(squeue -h -o %A 2>/dev/null) ]] && break
                sleep 0.2
            done
        fi
    fi
    stop_daemon slurmd
    stop_daemon slurmctld
    stop_daemon munged
}

cmd_status() {
    local name pid
    for name in munged slurmctld slurmd; do
        if pid=$(alive_pid "$DIR/run/$name.pid"); then say "$name running (pid $pid)"; else say "$name not running"; fi
    done
    if alive_pid "$DIR/run/slurmctld.pid" >/dev/null; then
        sinfo
        squeue
        echo "export SLURM_CONF=$CONF"
    fi
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 install|start|stop|status   (state folder: \$ZOORANK_SLURM_DIR, default /tmp/zoorank-slurm)" >&2; exit 2 ;;
esac
