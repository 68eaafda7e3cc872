"""MPI across hosts, for real: ranks started through ssh on two loopback "hosts" (127.0.0.2 and
127.0.0.3, each reached through an sshd this module starts on a free port), talking over TCP,
every rank reading its own rows of a training set given by reference. Also on one host: rank 0's
peak memory stays below the size of the training set.

sshd comes from the system's openssh-server (`make test` installs it); without it these tests
fail, saying so, rather than skip."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gradcode as gc
from outside import run_bounded

SCRIPT = Path(__file__).parent / "mpi_scripts" / "by_reference.py"
HOSTS = ("127.0.0.2", "127.0.0.3")
TIMEOUT = 150


def sshd_binary() -> str:
    found = shutil.which("sshd") or next(
        (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if Path(p).exists()), None
    )
    assert found, "no sshd: install openssh-server (make test does: apt-get install openssh-server)"
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOSTS[0], 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ssh(tmp_path_factory):
    """An sshd on HOSTS at a free port, a key it accepts, and an ssh wrapper that uses both."""
    root = tmp_path_factory.mktemp("ssh")
    for name in ("host", "user"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / name)],
                       check=True, timeout=30)  # fmt: skip
    shutil.copy(root / "user.pub", root / "authorized_keys")
    port = free_port()
    config = root / "sshd_config"
    config.write_text(
        "".join(f"ListenAddress {h}:{port}\n" for h in HOSTS)
        + f"HostKey {root / 'host'}\nAuthorizedKeysFile {root / 'authorized_keys'}\n"
        f"PidFile {root / 'sshd.pid'}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
        "PermitUserEnvironment no\nAcceptEnv *\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation folder (root's sshd)
    log = root / "sshd.log"
    sshd = subprocess.Popen([sshd_binary(), "-D", "-e", "-f", str(config), "-E", str(log)],
                            start_new_session=True)  # fmt: skip
    wrapper = root / "ssh"
    wrapper.write_text(
        "#!/bin/sh\nexec ssh -p {port} -i {key} -o BatchMode=yes -o StrictHostKeyChecking=no "
        '-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$@"\n'.format(
            port=port, key=root / "user"
        )
    )
    wrapper.chmod(0o755)
    deadline = time.monotonic() + 20
    while True:  # until every host answers
        ok = [subprocess.run([str(wrapper), h, "true"], capture_output=True, timeout=20,
                             check=False).returncode == 0 for h in HOSTS]  # fmt: skip
        if all(ok):
            break
        assert sshd.poll() is None, f"sshd exited {sshd.returncode}: {log.read_text()}"
        assert time.monotonic() < deadline, f"sshd never answered on {HOSTS}: {log.read_text()}"
        time.sleep(0.3)
    yield wrapper, log
    os.killpg(sshd.pid, signal.SIGTERM)
    sshd.wait(10)


def mpiexec() -> str:
    return str(Path(sys.executable).parent / "mpiexec")


def run(cmd: list[str], out: Path) -> subprocess.CompletedProcess:
    return run_bounded(cmd, str(out), TIMEOUT)


def reference(big_file: Path) -> gc.Result:
    return gc.train("cyclic", gc.NpzRows(big_file), n=3, s=1, rounds=6)


def check(out: Path, big_file: Path, want: gc.Result) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok"
    theta = np.load(out / "theta.npy")
    assert np.max(np.abs(theta - want.theta)) <= 1e-12 * np.max(np.abs(want.theta))
    assert summary["losses"] == pytest.approx([r.loss for r in want.rounds], rel=1e-12)
    # rank 0 never read X: its peak memory is below the training set's size
    assert summary["peak_rss_bytes"] < summary["x_bytes"] / 2, summary
    return summary


@pytest.fixture(scope="module")
def want(big_file: Path) -> gc.Result:
    return reference(big_file)


@pytest.mark.timeout(TIMEOUT + 30)
def test_one_host_rank0_never_holds_the_training_set(big_file, want, tmp_path: Path) -> None:
    got = run([mpiexec(), "-n", "4", sys.executable, str(SCRIPT), str(tmp_path), str(big_file)],
              tmp_path)  # fmt: skip
    assert got.returncode == 0, got.stdout + got.stderr
    check(tmp_path, big_file, want)


@pytest.mark.timeout(TIMEOUT + 60)
def test_two_hosts_through_ssh(ssh, big_file, want, tmp_path: Path) -> None:
    """Two ranks on each of two "hosts", launched by ssh: the run equals the local one, and the
    ranks ran in ssh sessions on both hosts (SSH_CONNECTION names the address reached)."""
    wrapper, log = ssh
    hostfile = tmp_path / "hosts"
    hostfile.write_text("".join(f"{h}:2\n" for h in HOSTS))
    cmd = [mpiexec(), "-launcher", "ssh", "-launcher-exec", str(wrapper), "-f", str(hostfile),
           "-n", "4", sys.executable, str(SCRIPT), str(tmp_path), str(big_file)]  # fmt: skip
    got = run(cmd, tmp_path)
    assert got.returncode == 0, got.stdout + got.stderr + log.read_text()
    summary = check(tmp_path, big_file, want)
    reached = [h.split("|")[2] for h in summary["hosts"]]
    assert sorted(reached) == sorted(HOSTS * 2), summary["hosts"]
