#!/usr/bin/env bash
# A single-node Slurm on this machine, for the workflow's cluster tests: Debian's packages (installed with apt
# when missing), every config and state file under STATE_DIR, daemons started as root without systemd, and
# the PIDs written to STATE_DIR/pids for stop.sh. Prints the environment the clients need (SLURM_CONF and
# PATH with an `srun` that finds the config: the jobstep plugin clears SLURM_CONF before its inner srun).
#
#   tests/slurm/start.sh STATE_DIR [--no-accounting]
#
# With accounting (the default): MariaDB + slurmdbd, and account `test` for user root (sacct works).
# Without: no slurmdbd; sacct has nothing to read, so the executor must query squeue (docs/CLUSTER.md).
# The node declares 4 GPUs backed by character devices (/dev/null...: Count alone registers 0 and drains the
# node), with no CUDA_VISIBLE_DEVICES set for the jobs (Flags=no_gpu_env): the jobs run on the CPU.
set -euo pipefail

STATE_DIR=$(realpath -m "${1:?usage: start.sh STATE_DIR [--no-accounting]}")
ACCOUNTING=yes
[[ "${2:-}" == "--no-accounting" ]] && ACCOUNTING=no
PACKAGES=(munge slurmctld slurmd slurm-client)
[[ $ACCOUNTING == yes ]] && PACKAGES+=(slurmdbd slurm-wlm-mysql-plugin mariadb-server)

[[ $(id -u) == 0 ]] || { echo "start.sh: must run as root (the daemons run as root)" >&2; exit 2; }
missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "start.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d keeps the packages' own services from starting (this script starts what it needs)
    had_policy=no; [[ -e /usr/sbin/policy-rc.d ]] && had_policy=yes
    [[ $had_policy == yes ]] || printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >&2 \
        || { [[ $had_policy == yes ]] || rm -f /usr/sbin/policy-rc.d; echo "start.sh: apt-get failed" >&2; exit 3; }
    [[ $had_policy == yes ]] || rm -f /usr/sbin/policy-rc.d
fi

mkdir -p "$STATE_DIR"/{etc,bin,log,munge,ctld,spool,mysql}
chmod 755 "$STATE_DIR" "$STATE_DIR/munge"  # munged refuses a socket directory others cannot read
: > "$STATE_DIR/pids"
# A failed start stops what it started.
trap 'status=$?; ((status)) && "$(dirname "$0")/stop.sh" "$STATE_DIR"; exit $status' EXIT
HOST=$(hostname -s)
MUNGE_SOCKET=$STATE_DIR/munge/munge.socket
CTLD_PORT=${SLURM_TEST_PORT:-16817}
DBD_PORT=$((CTLD_PORT + 2))
MYSQL_PORT=$((CTLD_PORT + 3))
CONF=$STATE_DIR/etc/slurm.conf

started() {  # NAME PID: record a daemon's PID for stop.sh
    echo "$1 $2" >> "$STATE_DIR/pids"
}
wait_for() {  # SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds
    local seconds=$1 what=$2; shift 2
    for ((i = 0; i < seconds * 4; i++)); do
        "$@" > /dev/null 2>&1 && return 0
        sleep 0.25
    done
    echo "start.sh: $what did not come up in ${seconds} s; logs in $STATE_DIR/log" >&2
    exit 4
}

# munge: a fresh key of this cluster's own
dd if=/dev/urandom of="$STATE_DIR/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$STATE_DIR/munge/munge.key"
munged --foreground --force --socket="$MUNGE_SOCKET" --key-file="$STATE_DIR/munge/munge.key" \
    --pid-file="$STATE_DIR/munge/munged.pid" --log-file="$STATE_DIR/log/munged.log" \
    --seed-file="$STATE_DIR/munge/munged.seed" >> "$STATE_DIR/log/munged.log" 2>&1 < /dev/null &
started munged $!
wait_for 10 munged bash -c "munge --socket='$MUNGE_SOCKET' -n | unmunge --socket='$MUNGE_SOCKET'"

ACCOUNTING_CONF="AccountingStorageType=accounting_storage/none"
if [[ $ACCOUNTING == yes ]]; then
    mariadb-install-db --no-defaults --datadir="$STATE_DIR/mysql" --user=root --skip-test-db \
        > "$STATE_DIR/log/mariadb-install.log" 2>&1
    mariadbd --no-defaults --datadir="$STATE_DIR/mysql" --user=root --port="$MYSQL_PORT" \
        --bind-address=127.0.0.1 --socket="$STATE_DIR/mysql/mysql.sock" \
        --pid-file="$STATE_DIR/mysql/mariadb.pid" --log-error="$STATE_DIR/log/mariadb.log" \
        --innodb-buffer-pool-size=32M >> "$STATE_DIR/log/mariadb.log" 2>&1 < /dev/null &
    started mariadbd $!
    wait_for 60 MariaDB mariadb --no-defaults --socket="$STATE_DIR/mysql/mysql.sock" -uroot -e "select 1"
    mariadb --no-defaults --socket="$STATE_DIR/mysql/mysql.sock" -uroot -e "
        CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
    cat > "$STATE_DIR/etc/slurmdbd.conf" <<CONF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$MYSQL_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
PidFile=$STATE_DIR/log/slurmdbd.pid
LogFile=$STATE_DIR/log/slurmdbd.log
CONF
    chmod 600 "$STATE_DIR/etc/slurmdbd.conf"
    SLURM_CONF=$CONF slurmdbd -D >> "$STATE_DIR/log/slurmdbd.log" 2>&1 < /dev/null &  # slurmdbd.conf beside SLURM_CONF
    started slurmdbd $!
    wait_for 60 slurmdbd bash -c "exec 3<>/dev/tcp/127.0.0.1/$DBD_PORT"
    ACCOUNTING_CONF="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
AccountingStoragePass=$MUNGE_SOCKET
AccountingStorageTRES=gres/gpu"
fi

# The node declares more CPUs and memory than a small CI machine has (the profile asks 4 CPUs, 32 GB per
# job); config_overrides makes slurmd accept that instead of draining the node.
cat > "$CONF" <<CONF
ClusterName=maskbert-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$((CTLD_PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/log/slurmctld.pid
SlurmdPidFile=$STATE_DIR/log/slurmd.pid
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=1000
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
AccountingStoreFlags=job_comment
GresTypes=gpu
$ACCOUNTING_CONF
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=16 RealMemory=256000 Gres=gpu:4 State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
echo "NodeName=$HOST Name=gpu File=/dev/null,/dev/zero,/dev/full,/dev/urandom Flags=no_gpu_env" \
    > "$STATE_DIR/etc/gres.conf"

# The clients find the config through SLURM_CONF; srun inside a job (whose SLURM_* the jobstep plugin
# clears) through this wrapper, first on PATH.
printf '#!/bin/sh\nSLURM_CONF=%s exec /usr/bin/srun "$@"\n' "$CONF" > "$STATE_DIR/bin/srun"
chmod 755 "$STATE_DIR/bin/srun"
export SLURM_CONF=$CONF

slurmctld -D -i -f "$CONF" >> "$STATE_DIR/log/slurmctld.log" 2>&1 < /dev/null &
started slurmctld $!
wait_for 30 slurmctld scontrol ping
slurmd -D -f "$CONF" >> "$STATE_DIR/log/slurmd.log" 2>&1 < /dev/null &
started slurmd $!
if [[ $ACCOUNTING == yes ]]; then
    sacctmgr -i add account test Description=tests Organization=tests > /dev/null
    sacctmgr -i add user root Account=test > /dev/null
fi
wait_for 60 "the node (idle in sinfo)" bash -c "sinfo -h -N -o %T | grep -qx idle"
echo "SLURM_CONF=$CONF"
echo "PATH=$STATE_DIR/bin:$PATH"
