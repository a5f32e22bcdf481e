"""A local single-node Elasticsearch for development and tests (`wiredesk es start|stop|status`).

Everything lives under ``settings.es_home`` (``<data>/elasticsearch``): the cached download, the
unpacked distribution, data, logs and the pid file. The official release archive (with its bundled
JDK) is tried first; where it cannot be downloaded, the core-only distribution Elastic publishes to
Maven Central (``org.elasticsearch.distribution.integ-test-zip``) is fetched with ``mvn`` and run
on the JDK at ``settings.es_java_home``. Elasticsearch refuses to run as root, so as root the node
runs as the unprivileged ``settings.es_user``.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from pipeline.errors import ConfigError, RetryableError
from pipeline.settings import Settings

LOGGER = logging.getLogger(__name__)

MAVEN_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
RELEASE_ARCHIVE = "elasticsearch-{version}-linux-x86_64.tar.gz"
LOG_TAIL_LINES = 30


class LocalElasticsearch:
    """Install, start, inspect and stop one local node under ``settings.es_home``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.home = settings.es_home
        self.dist_dir = self.home / f"elasticsearch-{settings.es_version}"
        self.data_dir = self.home / "data"
        self.logs_dir = self.home / "logs"
        self.run_dir = self.home / "run"
        self.pid_file = self.run_dir / f"es-{settings.es_port}.pid"  # one node per port
        self.downloads = self.home / "downloads"

    # -- state
    def pid(self) -> int | None:
        """The pid of the node this folder started, when it is still alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by the unprivileged user
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and str(self.dist_dir) not in cmdline.read_bytes().decode(errors="replace"):
            return None  # the pid was reused by an unrelated process
        return pid

    def answering(self, timeout: float = 2.0) -> dict | None:
        """Version and health of whatever answers on our port, or None."""
        return probe_cluster(self.settings.local_es_url, timeout)

    # -- install
    def install(self) -> None:
        """Download (cached) and unpack the distribution once."""
        if (self.dist_dir / "bin" / "elasticsearch").exists():
            return
        self.downloads.mkdir(parents=True, exist_ok=True)
        archive = self.download()
        LOGGER.info("unpacking %s", archive.name)
        tmp = self.home / "unpack.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        unpack_archive(archive, tmp)
        unpacked = next(tmp.glob("elasticsearch-*"))
        unpacked.rename(self.dist_dir)
        shutil.rmtree(tmp, ignore_errors=True)
        for script in (self.dist_dir / "bin").iterdir():
            script.chmod(0o755)

    def download(self) -> Path:
        """The distribution archive: cached, else the release archive, else Maven Central."""
        version = self.settings.es_version
        for cached in (self.downloads / RELEASE_ARCHIVE.format(version=version),
                       self.downloads / f"elasticsearch-{version}.zip"):
            if cached.exists() and cached.stat().st_size > 0:
                return cached
        errors = []
        try:
            return download_release(version, self.downloads)
        except OSError as exc:
            errors.append(f"release archive: {exc}")
        try:
            return download_maven(version, self.downloads)
        except (OSError, subprocess.SubprocessError) as exc:
            errors.append(f"Maven Central: {exc}")
        raise ConfigError(
            "cannot install Elasticsearch " + version + ": " + "; ".join(errors)
            + ". Install Java 21+ and Maven, or point Wiredesk at an existing cluster with "
            "WIREDESK_ES_URL=http://host:9200 (see README, 'Using an existing cluster')."
        )

    # -- lifecycle
    def start(self) -> dict:
        """Start the node unless it already runs; wait until it answers; return its status."""
        if self.pid() and (status := self.wait_until_answering(10)):
            return status
        if (status := self.answering()) is not None:
            raise ConfigError(
                f"port {self.settings.es_port} already answers as Elasticsearch {status['version']} not started "
                "by Wiredesk; set WIREDESK_ES_URL to use it, or WIREDESK_ES_PORT to start another node"
            )
        ensure_port_free(self.settings.es_host, self.settings.es_port)
        self.install()
        java_home = find_java(self.settings, self.dist_dir)
        self.prepare_dirs()
        self.launch(java_home)
        status = self.wait_until_answering(self.settings.es_start_timeout)
        if status is None:
            raise RetryableError(
                f"Elasticsearch did not answer on {self.settings.local_es_url} within "
                f"{self.settings.es_start_timeout:.0f}s. Last lines of its log:\n{self.log_tail()}",
                reason="es_start_failed",
            )
        return status

    def prepare_dirs(self) -> None:
        """Create data/log/run folders owned by the user that runs the node."""
        for folder in (self.data_dir, self.logs_dir, self.run_dir):
            folder.mkdir(parents=True, exist_ok=True)
        user = run_as_user(self.settings)
        if user:
            ensure_user(user)
            check_traversable(self.home, user)
            for path in (self.dist_dir, self.data_dir, self.logs_dir, self.run_dir):
                subprocess.run(["chown", "-R", f"{user}:", str(path)], check=True)

    def launch(self, java_home: str | None) -> None:
        """Run bin/elasticsearch daemonised with our settings."""
        s = self.settings
        cmd = [
            str(self.dist_dir / "bin" / "elasticsearch"), "-d", "-p", str(self.pid_file),
            "-E", "discovery.type=single-node", "-E", f"network.host={s.es_host}",
            "-E", f"http.port={s.es_port}", "-E", "transport.port=9300-9399",
            "-E", f"path.data={self.data_dir}", "-E", f"path.logs={self.logs_dir}",
            "-E", "xpack.security.enabled=false", "-E", "cluster.name=wiredesk-local",
            "-E", "cluster.routing.allocation.disk.threshold_enabled=false",
            "-E", "action.destructive_requires_name=false",
        ]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ES_JAVA_OPTS": f"-Xms{s.es_heap} -Xmx{s.es_heap}"}
        if java_home:
            env["ES_JAVA_HOME"] = java_home
        user = run_as_user(s)
        if user:
            env["HOME"] = str(self.run_dir)
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *cmd]
        else:
            argv = cmd
        LOGGER.info("starting Elasticsearch %s on %s", s.es_version, s.local_es_url)
        proc = subprocess.run(argv, env=env, cwd=self.dist_dir, capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            raise RetryableError(
                f"Elasticsearch failed to start (exit {proc.returncode}).\n{proc.stderr[-2000:]}\n"
                f"Last lines of its log:\n{self.log_tail()}",
                reason="es_start_failed",
            )

    def wait_until_answering(self, timeout: float) -> dict | None:
        """Poll until the node answers with a green or yellow status, or the timeout passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.answering()
            if status and status.get("status") in ("green", "yellow"):
                return status
            time.sleep(0.5)
        return None

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the node this folder started (never another one). True if something was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, 15)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.3)
        if self.pid() is not None:
            os.kill(pid, 9)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of the node's main log, for error messages."""
        logs = sorted(self.logs_dir.glob("*.log"), key=lambda p: p.stat().st_mtime) if self.logs_dir.exists() else []
        main = [p for p in logs if not p.name.startswith("gc")]
        if not main:
            return "(no log yet)"
        return "\n".join(main[-1].read_text(errors="replace").splitlines()[-lines:])


def probe_cluster(url: str, timeout: float = 2.0) -> dict | None:
    """Version and health of the cluster at ``url`` (works on core-only nodes), or None."""
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=timeout) as resp:
            health = json.load(resp)
        with urllib.request.urlopen(f"{url}/_nodes/_local?filter_path=nodes.*.version", timeout=timeout) as resp:
            nodes = json.load(resp).get("nodes", {})
    except (OSError, ValueError):
        return None
    version = next(iter(nodes.values()), {}).get("version", "unknown")
    return {"url": url, "version": version, "status": health.get("status"), "cluster": health.get("cluster_name"),
            "nodes": health.get("number_of_nodes")}


def download_release(version: str, dest: Path) -> Path:
    """Fetch the official release archive (bundles its JDK)."""
    name = RELEASE_ARCHIVE.format(version=version)
    url = f"https://artifacts.elastic.co/downloads/elasticsearch/{name}"
    target = dest / name
    tmp = target.with_suffix(".part")
    with urllib.request.urlopen(url, timeout=20) as resp, open(tmp, "wb") as out:
        shutil.copyfileobj(resp, out)
    tmp.rename(target)
    return target


def download_maven(version: str, dest: Path) -> Path:
    """Fetch the core-only distribution from Maven Central with ``mvn dependency:copy``."""
    if not shutil.which("mvn"):
        raise OSError("mvn (Maven) is not installed")
    artifact = MAVEN_ARTIFACT.format(version=version)
    proc = subprocess.run(
        ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={dest}"],
        capture_output=True, text=True, timeout=900, cwd=dest,
    )
    target = dest / f"elasticsearch-{version}.zip"
    if proc.returncode != 0 or not target.exists():
        raise OSError(f"mvn could not fetch {artifact}: {(proc.stdout + proc.stderr)[-500:]}")
    return target


def unpack_archive(archive: Path, dest: Path) -> None:
    """Unpack a .zip or .tar.gz distribution."""
    dest.mkdir(parents=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    else:
        shutil.unpack_archive(str(archive), str(dest))


def find_java(settings: Settings, dist_dir: Path) -> str | None:
    """The JDK to run on: the bundled one, else settings.es_java_home, else JAVA_HOME-less PATH."""
    if (dist_dir / "jdk" / "bin" / "java").exists():
        return None  # bin/elasticsearch uses its bundled JDK
    if Path(settings.es_java_home, "bin", "java").exists():
        return settings.es_java_home
    raise ConfigError(
        f"Elasticsearch {settings.es_version} needs Java 21+, not found at {settings.es_java_home}; "
        "set WIREDESK_ES_JAVA_HOME to a JDK 21+ or WIREDESK_ES_URL to an existing cluster"
    )


def run_as_user(settings: Settings) -> str | None:
    """The unprivileged user to run as when we are root, else None."""
    return settings.es_user if os.geteuid() == 0 else None


def ensure_user(user: str) -> None:
    """Create the unprivileged system user when it does not exist."""
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True)


def check_traversable(path: Path, user: str) -> None:
    """Fail clearly when the unprivileged user cannot reach the Elasticsearch folder."""
    probe = subprocess.run(["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "test", "-x", str(path)])
    if probe.returncode != 0:
        raise ConfigError(
            f"user {user} cannot reach {path}: a parent folder is not traversable; "
            "set WIREDESK_DATA_DIR to a folder under a world-traversable path (e.g. /var/lib/wiredesk)"
        )


def ensure_port_free(host: str, port: int) -> None:
    """Report a taken port instead of silently sharing it."""
    with socket.socket() as sock:
        sock.settimeout(1)
        if sock.connect_ex((host, port)) == 0:
            raise ConfigError(
                f"port {port} on {host} is already taken by another program; stop it, "
                "set WIREDESK_ES_PORT to a free port, or WIREDESK_ES_URL to an existing cluster"
            )


def configured_status(settings: Settings) -> dict | None:
    """Version and health of WIREDESK_ES_URL through the client (credentials, CA), or None."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    from pipeline.store.client import connect
    from pipeline.store.indices import cluster_info

    try:
        es = connect(settings)
        info = cluster_info(es)
        nodes = es.cluster.health(filter_path="number_of_nodes")["number_of_nodes"]
    except (ApiError, TransportError) as exc:
        LOGGER.warning("cannot reach %s: %s", settings.es_url, exc)
        return None
    return {"url": settings.es_url, "version": info["version"], "status": info["status"], "nodes": nodes}


def run_es_command(args, settings: Settings) -> int:
    """`wiredesk es start|stop|status`."""
    if settings.es_url and args.action in ("start", "stop"):
        print(f"WIREDESK_ES_URL is set ({settings.es_url}): using that cluster, nothing to {args.action}")
        return 0
    node = LocalElasticsearch(settings)
    if args.action == "start":
        status = node.start()
        print(f"Elasticsearch {status['version']} is {status['status']} at {status['url']}")
        return 0
    if args.action == "stop":
        print("stopped" if node.stop() else "not running (nothing started by Wiredesk)")
        return 0
    status = configured_status(settings) if settings.es_url else probe_cluster(settings.local_es_url)
    if status is None:
        print(f"Elasticsearch: not answering at {settings.effective_es_url}")
        return 1
    print(f"Elasticsearch {status['version']} at {status['url']}: {status['status']} ({status['nodes']} node)")
    return 0
