"""The local stack's artefacts: Kafka's jars from Maven Central and a FerretDB binary built from its Go module."""

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from infra.local.ferretdb_source import SourceEditError, edits_fingerprint_files, prepare_source

Progress = Callable[[str], None]

SOURCES_DIR = Path(__file__).resolve().parent
KAFKA_POM = SOURCES_DIR / "kafka" / "pom.xml"
KAFKA_LOG4J_CONFIG = SOURCES_DIR / "kafka" / "log4j2.properties"
FERRETDB_MODULE = SOURCES_DIR / "ferretdb"
FERRETDB_GO_PATH = "github.com/FerretDB/FerretDB"
# How FerretDB is compiled; its Go tests use the same, so that they share what the build cache holds of the packages
# they have in common (the tests build against FerretDB's module as downloaded, the stack against the edited copy).
# Pure-Go SQLite: no C toolchain needed, and the binary is static.
FERRETDB_GO_FLAGS = ("-trimpath", "-buildvcs=false")
FERRETDB_GO_ENV = {"CGO_ENABLED": "0"}
# Pinned so a new plugin release cannot change what lands in the cache.
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MINIMUM_JAVA = 17
# Go 1.21+ fetches the toolchain go.mod asks for (1.24) from the module proxy on its own.
MINIMUM_GO = (1, 21)
_BUILD_STAMP = "built-from.sha256"
_TAIL_LINES = 30


class LocalStackError(RuntimeError):
    """A problem the person running the stack can act on; str() is the whole explanation."""


class MissingToolError(LocalStackError):
    """java, mvn or go is absent or too old."""


class BuildError(LocalStackError):
    """Fetching the Kafka jars or building FerretDB failed."""


def kafka_version() -> str:
    """Kafka's version, as pinned in infra/local/kafka/pom.xml (the one place it is written)."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", KAFKA_POM.read_text())
    if found is None:
        raise LocalStackError(f"{KAFKA_POM} has no <kafka.version> property")
    return found.group(1).strip()


def ferretdb_version() -> str:
    """FerretDB's version, as required in infra/local/ferretdb/go.mod (the one place it is written)."""
    go_mod = (FERRETDB_MODULE / "go.mod").read_text()
    found = re.search(r"^\s*(?:require\s+)?github\.com/FerretDB/FerretDB\s+(v\S+)", go_mod, re.MULTILINE)
    if found is None:
        raise LocalStackError(f"{FERRETDB_MODULE / 'go.mod'} does not require github.com/FerretDB/FerretDB")
    return found.group(1)


@dataclass(frozen=True)
class Artefacts:
    """Where the cached artefacts live; nothing is fetched or built until ensure_* is called."""

    cache_dir: Path

    @property
    def kafka_home(self) -> Path:
        return self.cache_dir / f"kafka-{kafka_version()}"

    @property
    def kafka_lib(self) -> Path:
        return self.kafka_home / "lib"

    @property
    def ferretdb_home(self) -> Path:
        return self.cache_dir / f"ferretdb-{ferretdb_version()}"

    @property
    def ferretdb_binary(self) -> Path:
        return self.ferretdb_home / "ferretdb"

    def kafka_ready(self) -> bool:
        return _stamp_matches(self.kafka_home, _fingerprint([KAFKA_POM])) and self.kafka_lib.is_dir()

    def ferretdb_ready(self) -> bool:
        return _stamp_matches(self.ferretdb_home, _ferretdb_fingerprint()) and self.ferretdb_binary.is_file()

    def ensure_kafka(self, progress: Progress) -> Path:
        """The directory of Kafka's jars, gathered by Maven on the first call."""
        if self.kafka_ready():
            # Read without the lock: a build takes the stamp away before it swaps the jars, and stamps them after.
            return self.kafka_lib
        with self._build_lock(progress):
            if self.kafka_ready():
                return self.kafka_lib
            progress(
                f"fetching Kafka {kafka_version()} jars from Maven Central into {self.kafka_lib} "
                "(first run only, ~1 min)…"
            )
            started = time.monotonic()
            self.kafka_home.mkdir(parents=True, exist_ok=True)
            staging = self.kafka_home / "lib.partial"
            shutil.rmtree(staging, ignore_errors=True)
            _run_build(
                [
                    _require("mvn"),
                    "-B",
                    "-q",
                    # A jar whose checksum does not match the one Maven Central publishes stops the fetch: without
                    # it Maven only warns, and `-q` hides the warning.
                    "--strict-checksums",
                    "-f",
                    str(KAFKA_POM),
                    f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
                    f"-DoutputDirectory={staging}",
                    "-DincludeScope=runtime",
                ],
                cwd=KAFKA_POM.parent,
                log_file=self.kafka_home / "maven.log",
                what=f"Fetching the Kafka {kafka_version()} jars with Maven",
                timeout=900,
            )
            if not any(staging.glob("kafka_2.13-*.jar")):
                raise BuildError(
                    f"Maven finished but {staging} holds no kafka_2.13 jar; see {self.kafka_home}/maven.log"
                )
            # The stamp goes first: a stop between the swap and the new stamp must not leave the old stamp vouching
            # for the new jars, which the sources, changed back, would match again.
            _remove_stamp(self.kafka_home)
            shutil.rmtree(self.kafka_lib, ignore_errors=True)
            staging.replace(self.kafka_lib)
            _write_stamp(self.kafka_home, _fingerprint([KAFKA_POM]))
            progress(f"Kafka jars ready in {time.monotonic() - started:.0f} s")
            return self.kafka_lib

    def ensure_ferretdb(self, progress: Progress) -> Path:
        """The FerretDB binary, (re)built when infra/local/ferretdb's sources changed since the last build."""
        if self.ferretdb_ready():
            return self.ferretdb_binary
        with self._build_lock(progress):
            if self.ferretdb_ready():
                return self.ferretdb_binary
            if self.ferretdb_binary.exists():
                progress(f"rebuilding {self.ferretdb_binary}: {FERRETDB_MODULE} changed since it was built…")
            else:
                progress(
                    f"building FerretDB {ferretdb_version()} from its Go module into {self.ferretdb_binary} "
                    "(first run only, 1-3 min)…"
                )
            started = time.monotonic()
            self.ferretdb_home.mkdir(parents=True, exist_ok=True)
            go = _require("go")
            log_file = self.ferretdb_home / "build.log"
            what = f"Building FerretDB {ferretdb_version()} with Go"
            modfile = self._edited_ferretdb_source(go, what)
            staging = self.ferretdb_home / "ferretdb.partial"
            _run_build(
                [go, "build", *FERRETDB_GO_FLAGS, f"-modfile={modfile}", "-o", str(staging), "."],
                cwd=FERRETDB_MODULE,
                log_file=log_file,
                what=what,
                timeout=1800,
                extra_env=FERRETDB_GO_ENV,
            )
            _remove_stamp(self.ferretdb_home)  # as for Kafka's jars
            # A rename, not an overwrite: a FerretDB still running from the old binary keeps its inode.
            staging.replace(self.ferretdb_binary)
            _write_stamp(self.ferretdb_home, _ferretdb_fingerprint())
            progress(f"FerretDB built in {time.monotonic() - started:.0f} s")
            return self.ferretdb_binary

    def _edited_ferretdb_source(self, go: str, what: str) -> Path:
        """Downloads FerretDB's module, copies and edits it (see `ferretdb_source`), and returns a go.mod that builds
        infra/local/ferretdb with that copy: infra/local/ferretdb/go.mod itself, and its go.sum, stay as they are."""
        module_dir = downloaded_go_module(go, FERRETDB_GO_PATH, cwd=FERRETDB_MODULE, what=what)
        try:
            source = prepare_source(module_dir, self.ferretdb_home / "source")
        except SourceEditError as exc:
            raise BuildError(f"{what} failed: {exc}") from None
        build_dir = self.ferretdb_home / "module"
        build_dir.mkdir(exist_ok=True)
        modfile = build_dir / "go.mod"
        replacement = json.dumps(str(source), ensure_ascii=False)
        modfile.write_text(
            (FERRETDB_MODULE / "go.mod").read_text() + f"\nreplace {FERRETDB_GO_PATH} => {replacement}\n"
        )
        # The go command reads the sums beside the go.mod it is given.
        shutil.copyfile(FERRETDB_MODULE / "go.sum", build_dir / "go.sum")
        return modfile

    @contextlib.contextmanager
    def _build_lock(self, progress: Progress) -> Iterator[None]:
        # The cache is shared by every stack root (tests use their own roots), so builds are serialised.
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with (self.cache_dir / ".build.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # A first build elsewhere (another terminal, a test run) takes minutes: said, not a silent wait.
                progress(f"waiting for another process building into {self.cache_dir}…")
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def check_tools(*, java: bool, maven: bool, go: bool) -> str | None:
    """The java executable to use (when java is wanted); raises MissingToolError naming every missing tool."""
    problems: list[str] = []
    packages: list[str] = []
    java_path = None
    if java:
        java_path = find_java()
        major = java_major_version(java_path) if java_path else None
        if java_path is None:
            problems.append(f"java ({MINIMUM_JAVA}+, runs Kafka) is not on PATH and JAVA_HOME is not set")
        elif major is None or major < MINIMUM_JAVA:
            found = f"Java {major}" if major else "a Java whose version could not be read"
            problems.append(f"{java_path} is {found}, and Kafka 4 needs Java {MINIMUM_JAVA}+")
        if java_path is None or major is None or major < MINIMUM_JAVA:
            packages.append("openjdk-17-jre-headless")
    if maven and shutil.which("mvn") is None:
        problems.append("mvn (Apache Maven, which fetches the Kafka jars once) is not on PATH")
        packages.append("maven")
    if go:
        go_path = shutil.which("go")
        version = go_version(go_path) if go_path else None
        if go_path is None:
            problems.append("go (which builds FerretDB once) is not on PATH")
        elif version is None or version < MINIMUM_GO:
            problems.append(f"{go_path} is older than Go {'.'.join(map(str, MINIMUM_GO))}, needed to build FerretDB")
        if version is None or version < MINIMUM_GO:
            packages.append("golang")
    if problems:
        raise MissingToolError(
            f"The local stack cannot start: {'; '.join(problems)}. {_install_hint(packages)} Then run it again."
        )
    return java_path


def _install_hint(packages: list[str]) -> str:
    hint = f"On Debian or Ubuntu: `apt-get install -y {' '.join(packages)}`."
    if "golang" in packages:
        hint += " If the distribution's Go is older than 1.21, install Go from https://go.dev/dl/ instead."
    return hint


def find_java() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def java_major_version(java: str) -> int | None:
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    # `openjdk version "17.0.15"`, or `"1.8.0_412"` for the old numbering.
    found = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def go_version(go: str) -> tuple[int, int] | None:
    try:
        result = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"go(\d+)\.(\d+)", result.stdout)
    return (int(found.group(1)), int(found.group(2))) if found else None


def tail(path: Path, *, since_byte: int = 0, lines: int = _TAIL_LINES) -> str:
    """The last lines written to path after since_byte, or a note when there are none."""
    try:
        with path.open("rb") as log:
            log.seek(since_byte)
            text = log.read().decode(errors="replace")
    except OSError:
        return f"({path} does not exist)"
    kept = text.splitlines()[-lines:]
    return "\n".join(kept) if kept else f"({path} is empty)"


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        package = {"mvn": "maven", "go": "golang"}[tool]
        raise MissingToolError(f"The local stack cannot start: {tool} is not on PATH. {_install_hint([package])}")
    return path


def _run_build(
    argv: list[str], *, cwd: Path, log_file: Path, what: str, timeout: float, extra_env: dict[str, str] | None = None
) -> None:
    env = {**os.environ, **(extra_env or {})}
    with log_file.open("wb") as log:
        try:
            result = subprocess.run(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BuildError(f"{what} took longer than {timeout:.0f} s and was stopped. Log: {log_file}") from None
    if result.returncode != 0:
        raise BuildError(
            f"{what} failed (exit code {result.returncode}). Command: {' '.join(argv)} (in {cwd}). "
            f"Last lines of {log_file}:\n{tail(log_file)}"
        )


def downloaded_go_module(go: str, module: str, *, cwd: Path, what: str) -> Path:
    """The directory of the version of `module` that the go.mod in `cwd` requires, downloaded (and checked against
    its go.sum) into Go's module cache if it is not there yet."""
    try:
        result = subprocess.run(
            [go, "mod", "download", "-json", module],
            cwd=cwd,
            env={**os.environ, **FERRETDB_GO_ENV},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what}: downloading {module} took longer than 1800 s and was stopped") from None
    try:
        reply = json.loads(result.stdout)
    except json.JSONDecodeError:
        reply = {}
    if result.returncode != 0 or "Dir" not in reply:
        said = reply.get("Error") or (result.stderr + result.stdout).strip()[-2000:]
        raise BuildError(f"{what}: downloading {module} failed (exit code {result.returncode}): {said}")
    return Path(reply["Dir"])


def _fingerprint(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _ferretdb_fingerprint() -> str:
    return _fingerprint(
        [
            *sorted(FERRETDB_MODULE.glob("*.go")),
            FERRETDB_MODULE / "go.mod",
            FERRETDB_MODULE / "go.sum",
            *edits_fingerprint_files(),
        ]
    )


def _stamp_matches(home: Path, fingerprint: str) -> bool:
    try:
        return (home / _BUILD_STAMP).read_text().strip() == fingerprint
    except OSError:
        return False


def _remove_stamp(home: Path) -> None:
    (home / _BUILD_STAMP).unlink(missing_ok=True)


def _write_stamp(home: Path, fingerprint: str) -> None:
    (home / _BUILD_STAMP).write_text(fingerprint + "\n")
