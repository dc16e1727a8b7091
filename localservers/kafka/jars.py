"""The jars of an Apache Kafka broker, fetched once from Maven Central by Maven (the pom
beside this file) into a cache outside git, and the Java command that runs them."""

from __future__ import annotations

import fcntl
import os
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


class KafkaUnavailable(RuntimeError):
    """Java or Maven is missing: the brokers cannot be run here."""


def kafka_version() -> str:
    text = POM.read_text()
    return text.split("<kafka.version>", 1)[1].split("<", 1)[0]


def cache_dir() -> Path:
    """FRAUD_KAFKA_CACHE, else ~/.cache/fraud-engine/kafka-<version>."""
    configured = os.environ.get("FRAUD_KAFKA_CACHE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "fraud-engine" / f"kafka-{kafka_version()}"


def missing_tools() -> list[str]:
    return [tool for tool in ("java", "mvn") if shutil.which(tool) is None]


def ensure_jars(say: object = None) -> Path:
    """The folder of the broker's jars, fetched by Maven on first use (about 45 MB; a
    minute or so on a first run, nothing afterwards). Safe to call from several processes
    at once: one fetches, the others wait."""
    libs = cache_dir() / "libs"
    done = libs / ".complete"
    if done.exists():
        return libs
    if "mvn" in missing_tools() or "java" in missing_tools():
        raise KafkaUnavailable(f"Apache Kafka needs {' and '.join(missing_tools())} on PATH")
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
