"""A one-machine stand-in for the Slurm commands that snakemake-executor-plugin-slurm (2.8) calls, so that a
test can run the workflow with `--profile profiles/slurm` where no Slurm exists. The executables beside this
file (sbatch, srun, sacct, squeue, sinfo, scontrol, sacctmgr, scancel) each call `main(<their name>)`.

The stub cluster has one partition and one account, both named `test`. State lives in the folder named by
$STUB_SLURM_DIR (the test's temp dir; not SLURM_*, which the plugin's job step strips before `srun`):
`<command>.jsonl` logs every call's arguments (one JSON list a line),
`jobs/<id>.json` holds each job's name and state. `sbatch` runs the job before it answers (RUNNING, then
COMPLETED or FAILED by the job command's exit status), so a status query never finds a job pending; the
plugin submits from a pool of two threads, so two jobs still run at once. Array jobs (`--array`) are not
supported and are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PARTITION = ACCOUNT = "test"
# Long options (of the calls the plugin makes) that take no value; every other long option takes one
# (`--opt=value` or `--opt value`).
FLAGS = {"--parsable", "--parsable2", "--noheader", "--requeue", "--no-requeue", "--exclusive"}


def _state_dir() -> Path:
    path = os.environ.get("STUB_SLURM_DIR")
    if not path:
        sys.exit("slurm stub: STUB_SLURM_DIR is not set (the folder for the stub cluster's state)")
    return Path(path)


def _log_call(command: str, argv: list[str]) -> None:
    """Append this call's arguments to <command>.jsonl in one write, so concurrent calls do not interleave."""
    line = (json.dumps(argv) + "\n").encode()
    fd = os.open(_state_dir() / f"{command}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def parse_options(argv: list[str], value_taking_short: str = "") -> tuple[dict[str, str], list[str]]:
    """Options before the first operand as {name: value} (flags map to ""), and the operands. Short options
    in `value_taking_short` take the next argument unless the value is attached (`-n1`)."""
    options: dict[str, str] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if arg.startswith("--"):
            name, sep, value = arg.partition("=")
            if not sep and name not in FLAGS:
                i += 1
                value = argv[i]
        elif arg[1:2] in value_taking_short:
            name, value = arg[:2], arg[2:]
            if not value:
                i += 1
                value = argv[i]
        else:
            name, value = arg, ""
        options[name] = value
        i += 1
    return options, argv[i:]


def _jobs() -> list[dict]:
    jobs_dir = _state_dir() / "jobs"
    return [json.loads(p.read_text()) for p in sorted(jobs_dir.glob("*.json"))] if jobs_dir.is_dir() else []


def _new_job_id() -> str:
    """The next free job id, claimed by creating its file exclusively (two sbatch calls may race)."""
    jobs_dir = _state_dir() / "jobs"
    jobs_dir.mkdir(exist_ok=True)
    job_id = len(list(jobs_dir.glob("*.json"))) + 1
    while True:
        try:
            os.close(os.open(jobs_dir / f"{job_id}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
            return str(job_id)
        except FileExistsError:
            job_id += 1


def _set_state(job_id: str, name: str, state: str) -> None:
    path = _state_dir() / "jobs" / f"{job_id}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"id": job_id, "name": name, "state": state}))
    os.replace(tmp, path)


def sbatch(argv: list[str]) -> int:
    options, operands = parse_options(argv, value_taking_short="ACDJNacdenopt")
    if "--array" in options or "-a" in options:
        sys.exit("sbatch (stub): --array is not supported")
    if "--wrap" in options:
        command = ["/bin/sh", "-c", options["--wrap"]]
    elif operands:  # a batch script, e.g. /dev/stdin with --slurm-pass-command-as-script
        command = ["/bin/sh", "-c", Path(operands[0]).read_text()]
    else:
        sys.exit("sbatch (stub): neither --wrap nor a script given")
    partition = options.get("--partition", options.get("-p", PARTITION))
    account = options.get("--account", options.get("-A", ACCOUNT))
    if partition != PARTITION or account != ACCOUNT:
        sys.exit(f"sbatch: error: invalid partition {partition!r} or account {account!r} (stub has 'test')")
    name = options.get("--job-name", options.get("-J", "wrap"))
    job_id = _new_job_id()
    _set_state(job_id, name, "RUNNING")
    env = {
        **os.environ,
        "SLURM_JOB_ID": job_id,
        "SLURM_JOBID": job_id,
        "SLURM_JOB_NAME": name,
        "SLURM_SUBMIT_DIR": os.getcwd(),
    }
    if "--cpus-per-task" in options:
        env["SLURM_CPUS_PER_TASK"] = options["--cpus-per-task"]
    if "--gpus" in options:
        env["SLURM_GPUS"] = options["--gpus"]
    log = Path(options.get("--output", options.get("-o", "slurm-%j.out")).replace("%j", job_id))
    workdir = options.get("-D", options.get("--chdir", os.getcwd()))
    log = Path(workdir, log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        returncode = subprocess.run(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    _set_state(job_id, name, "COMPLETED" if returncode == 0 else "FAILED")
    print(job_id if "--parsable" in options else f"Submitted batch job {job_id}")
    return 0


def srun(argv: list[str]) -> int:
    """Run the job step's command in place (the allocation is this machine)."""
    _, command = parse_options(argv, value_taking_short="ACDJNcnt")
    if not command:
        sys.exit("srun (stub): no command given")
    os.execvp(command[0], command)


def _status_lines(name: str) -> list[str]:
    return [f"{job['id']}|{job['state']}" for job in _jobs() if job["name"] == name]


def sacct(argv: list[str]) -> int:
    options, _ = parse_options(argv, value_taking_short="jou")
    if "--name" in options:  # the plugin's status query
        if options.get("--format") != "JobIdRaw,State" or "--parsable2" not in options:
            sys.exit(f"sacct (stub): only --parsable2 --format=JobIdRaw,State is supported, got {argv}")
        print("\n".join(_status_lines(options["--name"])))
        return 0
    if "-j" in options:  # a failed job's step reasons or node list: the stub records none
        return 0
    sys.exit(f"sacct (stub): unsupported call {argv}")


def squeue(argv: list[str]) -> int:
    options, _ = parse_options(argv)
    if options.get("--format") != "%i|%T" or "--name" not in options:
        sys.exit(f"squeue (stub): only --format=%i|%T --name NAME is supported, got {argv}")
    print("\n".join(_status_lines(options["--name"])))
    return 0


def sinfo(argv: list[str]) -> int:
    print(f"PARTITION\n{PARTITION}*")  # `sinfo -o %P`: the default partition is starred
    return 0


def scontrol(argv: list[str]) -> int:
    if argv[:2] != ["show", "config"]:
        sys.exit(f"scontrol (stub): only `show config` is supported, got {argv}")
    print("MaxArraySize            = 1001")  # no MinJobAge: the plugin then keeps sacct for status queries
    return 0


def sacctmgr(argv: list[str]) -> int:
    print(ACCOUNT)  # `sacctmgr -n -s list user USER format=account%256`: the user's accounts
    return 0


def scancel(argv: list[str]) -> int:
    """Jobs have finished by the time sbatch answers, so there is nothing to cancel."""
    return 0


COMMANDS = {
    "sbatch": sbatch,
    "srun": srun,
    "sacct": sacct,
    "squeue": squeue,
    "sinfo": sinfo,
    "scontrol": scontrol,
    "sacctmgr": sacctmgr,
    "scancel": scancel,
}


def main(command: str) -> None:
    argv = sys.argv[1:]
    _log_call(command, argv)
    sys.exit(COMMANDS[command](argv))
