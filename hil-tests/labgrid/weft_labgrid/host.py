"""Running weft on the host a WeftRadio is attached to: as a child process when that is this
host, otherwise through labgrid's SSH connection to it (the exporter's host, or its proxy for
an isolated exporter), as labgrid's own drivers run their tools (`command_prefix`)."""

import os
import shlex
import socket
import subprocess
import tempfile
import uuid

from labgrid.util.ssh import sshmanager

# On the remote host the command runs under this wrapper, which stops it (SIGTERM, which
# weft takes as a clean stop) when the SSH session's standard input ends: closing our end, or
# losing the connection, leaves nothing running there. The reader gets the session's input
# through fd 3 (an asynchronous list's standard input is /dev/null otherwise, POSIX 2.9.3).
_REMOTE_WRAPPER = (
    'exec 3<&0; "$@" </dev/null & child=$!; '
    '(read -r _ <&3; kill -TERM "$child" 2>/dev/null) & reader=$!; '
    'wait "$child"; status=$?; kill "$reader" 2>/dev/null; exit "$status"'
)


def _ssh_host(resource):
    extra = getattr(resource, "extra", None) or {}
    return extra.get("proxy") if extra.get("proxy_required") else resource.host


def is_local(resource):
    """True when the resource's host is this host and no proxy is required."""
    extra = getattr(resource, "extra", None) or {}
    if extra.get("proxy_required"):
        return False
    names = {"localhost", "127.0.0.1", "::1", socket.gethostname(), socket.getfqdn()}
    return resource.host in names


class Host:
    """Where a driver runs weft for one resource."""

    def __init__(self, resource, local=None):
        self.resource = resource
        self.local = is_local(resource) if local is None else local
        self._forwards = []

    def command(self, argv):
        """The command line that runs `argv` on the host."""
        return list(argv) if self.local else self.resource.wrap_command(argv)

    def run(self, argv, timeout=60):
        """Runs `argv` on the host to its end; raises CalledProcessError, naming what it said,
        when it fails."""
        return subprocess.run(self.command(argv), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout, check=True)

    def spawn(self, argv, log):
        """Starts `argv` on the host, its output going to the open file `log`; stop it with
        `stop`."""
        if self.local:
            # In the caller's process group: whoever stops the test run stops these too.
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT)
        cmd = self.command(["sh", "-c", _REMOTE_WRAPPER, "sh", *argv])
        return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)

    @staticmethod
    def stop(proc, within=10.0):
        """Stops a process `spawn` started (SIGTERM, or the end of the SSH session's input)
        and reaps it; killed if it has not ended `within` seconds later."""
        if proc.poll() is None:
            if proc.stdin is not None:
                proc.stdin.close()
            else:
                proc.terminate()
            try:
                proc.wait(timeout=within)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def socket_path(self, name):
        """A fresh path for a Unix socket on the host (under /tmp there, short enough for
        sun_path)."""
        return f"{self.fresh_path(name)}.sock"

    @staticmethod
    def fresh_path(name):
        """A path on the host that nothing uses yet: /tmp/weft-NAME-RANDOM."""
        return f"/tmp/weft-{name}-{uuid.uuid4().hex[:12]}"

    def reach(self, path, scratch):
        """The path this host connects to for the host's Unix socket `path`: the path itself
        here; elsewhere a socket in `scratch` that OpenSSH forwards to it through labgrid's
        connection (`ssh -O forward -L LOCAL:REMOTE`)."""
        if self.local:
            return path
        local = os.path.join(scratch, os.path.basename(path))
        prefix = sshmanager.get(_ssh_host(self.resource)).get_prefix()
        forward = f"-L{local}:{path}"
        subprocess.run(prefix[:-1] + ["-O", "forward", forward, prefix[-1]], check=True,
                       stdin=subprocess.DEVNULL, capture_output=True)
        self._forwards.append((prefix, forward, local))
        return local

    def close(self):
        """Cancels the forwards `reach` made."""
        for prefix, forward, local in self._forwards:
            subprocess.run(prefix[:-1] + ["-O", "cancel", forward, prefix[-1]],
                           stdin=subprocess.DEVNULL, capture_output=True)
            try:
                os.unlink(local)
            except FileNotFoundError:
                pass
        self._forwards = []


def scratch_dir():
    """A private directory on this host for logs and forwarded sockets."""
    return tempfile.mkdtemp(prefix="weft-labgrid-")


def quote(argv):
    return " ".join(shlex.quote(a) for a in argv)
