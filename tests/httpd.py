"""A private Apache 2 (Debian's apache2) on 127.0.0.1 over folders, for tests of real .htaccess rules.

Not a test file: tests import it (`from httpd import Apache, apache_available`).

    ok, reason = apache_available()
    if not ok:
        pytest.skip(reason)
    with Apache({"/site": site_dir, "/hscp": rules_dir}) as server:
        response = server.request("/hscp/id/thing", headers={"Accept": "text/turtle"})
        assert response.status == 303

Each server gets its own temporary ServerRoot holding the config, pid file, logs, lock files and
runtime dir; it listens on a free port of 127.0.0.1 only, runs in the foreground as a child process
(`apache2 -f CONFIG -DFOREGROUND`) and never touches /etc/apache2, /var/log/apache2 or the system
service. Every mounted folder gets `AllowOverride All`, `Options FollowSymLinks` (.htaccess may add
`+MultiViews`; mod_rewrite in .htaccess needs FollowSymLinks), `Require all granted` and
`DirectoryIndex index.html`; everything else is denied.

Who the server runs as: Apache refuses `User root` (AH00526, "not designed to serve pages while
running as root") and, started as root, its children switch to `User`, which could not read a
pytest tmp_path (/tmp/pytest-of-root is mode 0700: 403 with AH00529 "unable to check htaccess
file"). So as root the whole server is started through setpriv(1) as www-data (or nobody) keeping a
single capability, CAP_DAC_READ_SEARCH (or CAP_DAC_OVERRIDE where a container lacks it), as an
ambient capability: it reads the folders where they are, no permission is changed anywhere, and
nothing of the server runs as root. As any other user it simply runs as that user.
"""

from __future__ import annotations

import http.client
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

APACHE = Path("/usr/sbin/apache2")
MODULES_DIR = Path("/usr/lib/apache2/modules")
MIME_TYPES = Path("/etc/mime.types")  # Debian's media-types package, a dependency of apache2
SETPRIV = "setpriv"  # util-linux, Essential on Debian

# mod_log_config and mod_unixd are compiled into Debian's apache2 (`apache2 -l`): no LoadModule.
MODULES = (
    "mpm_event",  # works unprivileged; -DFOREGROUND keeps the parent as our child process
    "authz_core",
    "authz_host",  # `Require ip/host` in .htaccess files
    "mime",
    "dir",
    "alias",
    "rewrite",
    "headers",
    "negotiation",
    "setenvif",
)

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

# Linux capability numbers (linux/capability.h), read from CapEff in /proc/self/status.
_CAPABILITIES = (("dac_read_search", 2), ("dac_override", 1))
_ROOT_RUN_USERS = ("www-data", "nobody")


class ApacheError(RuntimeError):
    """Apache did not start (the message ends with its error output) or cannot run here."""


@dataclass
class Response:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    @property
    def content_type(self) -> str:
        """The media type without parameters ("text/html; charset=UTF-8" gives "text/html")."""
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()


def _effective_capabilities() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def _run_as() -> tuple[list[str], int, int]:
    """The command prefix that starts Apache as a non-root user, and that user's uid and gid."""
    if os.geteuid() != 0:
        return [], os.geteuid(), os.getegid()
    setpriv = shutil.which(SETPRIV)
    if setpriv is None:
        raise ApacheError("running as root needs setpriv (util-linux) to start Apache as an unprivileged user")
    for name in _ROOT_RUN_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            break
    else:
        raise ApacheError(f"running as root needs one of the users {', '.join(_ROOT_RUN_USERS)} to run Apache as")
    effective = _effective_capabilities()
    capability = next((cap for cap, bit in _CAPABILITIES if effective >> bit & 1), None)
    if capability is None:
        raise ApacheError(
            "running as root without CAP_DAC_READ_SEARCH or CAP_DAC_OVERRIDE: Apache could not read the folders"
        )
    prefix = [
        setpriv,
        f"--reuid={entry.pw_uid}",
        f"--regid={entry.pw_gid}",
        "--clear-groups",
        f"--inh-caps=+{capability}",
        f"--ambient-caps=+{capability}",
    ]
    return prefix, entry.pw_uid, entry.pw_gid


def apache_available() -> tuple[bool, str]:
    """Whether Apache can run here, and if not why (for pytest.skip)."""
    if not os.access(APACHE, os.X_OK):
        return False, f"{APACHE} is missing: install Debian's apache2 (.ci/run does)"
    missing = [name for name in MODULES if not (MODULES_DIR / f"mod_{name}.so").is_file()]
    if missing:
        return False, f"Apache modules missing from {MODULES_DIR}: {', '.join(missing)}"
    if not MIME_TYPES.is_file():
        return False, f"{MIME_TYPES} is missing (Debian package media-types)"
    try:
        _run_as()
    except ApacheError as error:
        return False, str(error)
    return True, ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _quoted(path: Path | str) -> str:
    text = str(path)
    if any(ch in text for ch in '"\\\n\r'):
        raise ValueError(f"cannot put this path in an Apache config: {text!r}")
    return f'"{text}"'


def _prefix(url_prefix: str) -> str:
    if not url_prefix.startswith("/"):
        raise ValueError(f"a mount's URL prefix starts with '/': {url_prefix!r}")
    return url_prefix.rstrip("/") or "/"


class Apache:
    """Apache serving `mounts` (URL prefix -> folder) on http://127.0.0.1:PORT, as a context manager.

    A prefix "/" makes that folder the DocumentRoot. `log_level` is Apache's LogLevel, e.g.
    "warn rewrite:trace3" to see how mod_rewrite handles each request in `error_log`.
    `extra_config` is appended to the server config.
    """

    def __init__(self, mounts: dict[str, Path | str], *, log_level: str = "warn", extra_config: str = ""):
        if not mounts:
            raise ValueError("no folder to serve")
        self.mounts: dict[str, Path] = {}
        for prefix, folder in mounts.items():
            folder = Path(folder).absolute()
            if not folder.is_dir():
                raise ValueError(f"not a folder: {folder}")
            self.mounts[_prefix(prefix)] = folder
        self.log_level = log_level
        self.extra_config = extra_config
        self.root: Path | None = None
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.start_seconds: float | None = None
        self.stop_seconds: float | None = None

    # -- life cycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("Apache is not started")
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Apache:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        ok, reason = apache_available()
        if not ok:
            raise ApacheError(reason)
        prefix, uid, gid = _run_as()
        began = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix="kg-apache-"))
        try:
            for sub in ("run", "empty"):
                (self.root / sub).mkdir()
            if os.geteuid() == 0:  # the server runs as `uid` and writes its logs and pid file here
                for path in (self.root, self.root / "run", self.root / "empty"):
                    os.chown(path, uid, gid)
            for attempt in range(3):
                self.port = _free_port()
                config = self.root / "httpd.conf"
                config.write_text(self._config(uid, gid))
                if self._launch(prefix, config):
                    self.start_seconds = time.monotonic() - began
                    return
                text = self._failure_output()
                if "Address already in use" not in text or attempt == 2:
                    raise ApacheError(f"Apache did not start on {self.url}:\n{text}")
        except BaseException:
            self.stop()
            raise

    def _launch(self, prefix: list[str], config: Path) -> bool:
        """Start the server; True once the port answers, False if it exited (the caller reports)."""
        output = open(self.root / "stderr.log", "wb")
        try:
            self.process = subprocess.Popen(
                [*prefix, str(APACHE), "-f", str(config), "-DFOREGROUND"],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,  # its own process group: killed as one if it will not stop
            )
        finally:
            output.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.02)
        text = self._failure_output()
        self._terminate()
        raise ApacheError(f"Apache did not answer on {self.url} within {START_TIMEOUT:.0f} s:\n{text}")

    def stop(self) -> None:
        began = time.monotonic()
        self._terminate()
        self.stop_seconds = time.monotonic() - began
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM: Apache stops its children and exits at once
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the group this server was started in
            except ProcessLookupError:
                pass
            process.wait(STOP_TIMEOUT)

    # -- logs -------------------------------------------------------------------------------

    def _read(self, name: str) -> str:
        if self.root is None:
            return ""
        try:
            return (self.root / name).read_text(errors="replace")
        except OSError:
            return ""

    @property
    def error_log(self) -> str:
        return self._read("error.log")

    @property
    def access_log(self) -> str:
        return self._read("access.log")

    def _failure_output(self, lines: int = 30) -> str:
        text = "\n".join(part for part in (self._read("stderr.log").strip(), self.error_log.strip()) if part)
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    # -- requests ---------------------------------------------------------------------------

    def request(self, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Response:
        """One request, redirects not followed (a 303 comes back as a 303 with its Location)."""
        if self.port is None:
            raise RuntimeError("Apache is not started")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, headers=headers or {})
            answer = connection.getresponse()
            return Response(answer.status, answer.reason, answer.headers, answer.read())
        finally:
            connection.close()

    # -- config -----------------------------------------------------------------------------

    def _config(self, uid: int, gid: int) -> str:
        root = self.root
        lines = [
            f"ServerRoot {_quoted(root)}",
            f"ServerName 127.0.0.1:{self.port}",  # without it: AH00558 "Could not reliably determine ..."
            f"Listen 127.0.0.1:{self.port}",
            f"PidFile {_quoted(root / 'httpd.pid')}",
            f"DefaultRuntimeDir {_quoted(root / 'run')}",
            f"Mutex file:{root / 'run'} default",
            f"ErrorLog {_quoted(root / 'error.log')}",
            f"LogLevel {self.log_level}",
            'LogFormat "%h %t \\"%r\\" %>s %b \\"%{Accept}i\\" \\"%{Location}o\\"" test',
            f"CustomLog {_quoted(root / 'access.log')} test",
        ]
        lines += [f"LoadModule {name}_module {MODULES_DIR / f'mod_{name}.so'}" for name in MODULES]
        lines += [
            # Only switched to when started as root, which never happens (see the module's doc):
            # the numbers name the user the server already runs as.
            f"User #{uid}",
            f"Group #{gid}",
            "StartServers 1",
            "ServerLimit 1",
            "ThreadLimit 16",
            "ThreadsPerChild 16",
            "MinSpareThreads 1",
            "MaxSpareThreads 16",
            "MaxRequestWorkers 16",
            "KeepAlive Off",
            f"TypesConfig {_quoted(MIME_TYPES)}",
            "AddDefaultCharset Off",
            "<Directory />",
            "    AllowOverride None",
            "    Require all denied",
            "</Directory>",
            '<Files ".ht*">',
            "    Require all denied",
            "</Files>",
        ]
        document_root = self.mounts.get("/", root / "empty")
        lines.append(f"DocumentRoot {_quoted(document_root)}")
        # longest prefix first, so /site/sub is not shadowed by /site
        for prefix in sorted(self.mounts, key=len, reverse=True):
            folder = self.mounts[prefix]
            if prefix != "/":
                lines.append(f"Alias {_quoted(prefix)} {_quoted(folder)}")
        for folder in dict.fromkeys(self.mounts.values()):
            lines += [
                f"<Directory {_quoted(folder)}>",
                "    Options FollowSymLinks",
                "    AllowOverride All",
                "    Require all granted",
                "    DirectoryIndex index.html",
                "</Directory>",
            ]
        if self.extra_config:
            lines.append(self.extra_config)
        return "\n".join(lines) + "\n"
