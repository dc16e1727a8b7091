"""The jars of an Apache Kafka broker, fetched once from Maven Central by Maven (the pom
beside this file) into a cache outside git, and the Java command that runs them."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).parent
POM = HERE / "pom.xml"
LOG4J = HERE / "log4j2.properties"
# Small heaps and a fast-starting JIT: up to three brokers share a 2-core test machine.
JVM_OPTIONS = [
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    f"-Dlog4j2.configurationFile=file:{LOG4J}",
]


def kafka_version() -> str:
    text = POM.read_text()
    return text.split("<kafka.version>", 1)[1].split("<", 1)[0]


def cache_dir() -> Path:
    """FRAUD_KAFKA_CACHE, else ~/.cache/fraud-engine/kafka-<version>-<pom digest>: a
    change to the pom (another version, plugin or logging jar) fetches anew."""
    configured = os.environ.get("FRAUD_KAFKA_CACHE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    return base / "fraud-engine" / f"kafka-{kafka_version()}-{digest}"


def java_major() -> int | None:
    """The major version of the `java` on PATH (17 for "17.0.15"), None without one."""
    if shutil.which("java") is None:
        return None
    shown = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    found = re.search(r'version "(\d+)(?:\.(\d+))?', shown.stderr + shown.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8" is Java 8


def missing_tools() -> list[str]:
    """What is missing to run the brokers: Java 17 or later, and Maven to fetch them."""
    missing = []
    major = java_major()
    if major is None or major < 17:
        missing.append("Java 17+" if major is None else f"Java 17+ (found {major})")
    if shutil.which("mvn") is None:
        missing.append("Maven")
    return missing


def ensure_jars() -> Path:
    """The folder of the broker's jars, fetched by Maven on first use (45 jars, 43 MB:
    8-15 s from an empty Maven cache here, nothing afterwards). Safe to call from several
    processes at once: one fetches, the others wait."""
    libs = cache_dir() / "libs"
    done = libs / ".complete"
    if done.exists():
        return libs
    if missing_tools():
        raise RuntimeError(f"Apache Kafka needs {' and '.join(missing_tools())}")
    libs.mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return libs
        started = time.monotonic()
        result = subprocess.run(
            [
                "mvn",
                "--batch-mode",
                "--quiet",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={libs}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(f"mvn could not fetch the Kafka jars:\n{result.stdout[-4000:]}")
        done.write_text(f"fetched in {time.monotonic() - started:.0f} s\n")
    return libs


def java_command(main_class: str, *args: str) -> list[str]:
    return ["java", *JVM_OPTIONS, "-cp", f"{ensure_jars()}/*", main_class, *args]
