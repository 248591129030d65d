"""Process launcher, readiness probes and a smoke check for the local emulators.

Run with the emulator venv's python (localstack/up does this):

    emucheck.py wait-localstack URL TIMEOUT [PID]  poll /_localstack/health until s3 and ec2 are up
    emucheck.py wait-moto URL TIMEOUT [PID]        poll moto's /moto-api/ until it answers
    emucheck.py check LOCALSTACK_URL MOTO_URL      real S3/EC2/STS/RDS calls with boto3
    emucheck.py spawn PIDFILE LOGFILE CWD CMD...   start CMD detached, write its pid
    emucheck.py port-free HOST PORT                exit 0 when HOST:PORT can be bound

spawn starts CMD in a new session (so it outlives the caller and can be
stopped as a process group) with stdin from /dev/null, stdout and stderr to
LOGFILE and every other inherited descriptor closed, so a daemon never holds
the caller's pipes (make, CI log capture) open.

With PID, waiting stops early when that process has exited.

Exit status 0 on success, 1 on failure (with the reason on stderr).
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

REQUIRED_LOCALSTACK_SERVICES = ("s3", "ec2")
UP_STATES = ("available", "running")


def _get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.read()


def _localstack_status(base):
    try:
        status, body = _get(base.rstrip("/") + "/_localstack/health")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, f"no answer ({exc})"
    if status != 200:
        return False, f"HTTP {status}"
    try:
        services = json.loads(body).get("services", {})
    except ValueError:
        return False, "health answer is not JSON"
    states = {name: services.get(name, "missing") for name in REQUIRED_LOCALSTACK_SERVICES}
    ok = all(state in UP_STATES for state in states.values())
    return ok, ", ".join(f"{k}={v}" for k, v in states.items())


def _moto_status(base):
    try:
        status, _ = _get(base.rstrip("/") + "/moto-api/")
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, f"no answer ({exc})"
    return status == 200, f"HTTP {status}"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait(probe, base, timeout, pid=None):
    deadline = time.monotonic() + float(timeout)
    while True:
        ok, detail = probe(base)
        if ok:
            return 0
        if pid is not None and not _alive(pid):
            print(f"process {pid} exited before becoming ready: {detail}", file=sys.stderr)
            return 1
        if time.monotonic() >= deadline:
            print(f"not ready after {timeout}s: {detail}", file=sys.stderr)
            return 1
        time.sleep(0.5)


def _check(localstack_url, moto_url):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    cfg = Config(
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        s3={"addressing_style": "path"},
    )
    started = time.monotonic()

    s3 = session.client("s3", endpoint_url=localstack_url, config=cfg)
    bucket = f"firedrill-selfcheck-{int(time.time() * 1000)}"
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_object(Bucket=bucket, Key="probe.txt", Body=b"firedrill")
        body = s3.get_object(Bucket=bucket, Key="probe.txt")["Body"].read()
        if body != b"firedrill":
            raise RuntimeError(f"S3 round trip returned {body!r}")
        s3.delete_object(Bucket=bucket, Key="probe.txt")
    finally:
        s3.delete_bucket(Bucket=bucket)
    names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    if bucket in names:
        raise RuntimeError("S3 bucket still listed after delete")

    ec2 = session.client("ec2", endpoint_url=localstack_url, config=cfg)
    regions = ec2.describe_regions()["Regions"]
    if not regions:
        raise RuntimeError("EC2 describe_regions returned no regions")
    volumes = ec2.describe_volumes()["Volumes"]

    sts = session.client("sts", endpoint_url=localstack_url, config=cfg)
    account = sts.get_caller_identity()["Account"]

    rds = session.client("rds", endpoint_url=moto_url, config=cfg)
    instances = rds.describe_db_instances()["DBInstances"]

    print(
        f"check ok in {time.monotonic() - started:.1f}s: "
        f"s3 bucket create/put/get/delete, ec2 {len(regions)} regions / {len(volumes)} volumes, "
        f"sts account {account}, rds {len(instances)} db instances"
    )
    return 0


def _spawn(pid_file, log_file, cwd, cmd):
    import subprocess

    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            close_fds=True,
            start_new_session=True,
        )
    tmp = pid_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(f"{proc.pid}\n")
    os.replace(tmp, pid_file)
    return 0


def _port_free(host, port):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, int(port)))
        except OSError as exc:
            print(f"{host}:{port} is in use ({exc.strerror})", file=sys.stderr)
            return 1
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "port-free":
        return _port_free(argv[2], argv[3])
    if len(argv) >= 6 and argv[1] == "spawn":
        return _spawn(argv[2], argv[3], argv[4], argv[5:])
    probes = {"wait-localstack": _localstack_status, "wait-moto": _moto_status}
    if len(argv) in (4, 5) and argv[1] in probes:
        pid = int(argv[4]) if len(argv) == 5 else None
        return _wait(probes[argv[1]], argv[2], argv[3], pid)
    if len(argv) == 4 and argv[1] == "check":
        try:
            return _check(argv[2], argv[3])
        except Exception as exc:  # report any SDK or assertion failure plainly
            print(f"check failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
