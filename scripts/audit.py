"""`make audit`: the locked dependencies (requirements.lock) checked for known
vulnerabilities with pip-audit, saying plainly when nothing could be checked.

    .venv/bin/python scripts/audit.py [--lock requirements.lock] [--service pypi|osv]

pip-audit asks a vulnerability service about each pinned package: PyPI's JSON API by
default, or OSV. Where neither is reachable (a mirror that serves only packages, say),
pip-audit skips every package and still exits 0; this exits 2 instead and says so.
Exit status: 0 no known vulnerability, 1 some found, 2 not (fully) audited.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lock", type=Path, default=Path("requirements.lock"))
    parser.add_argument("--service", choices=("pypi", "osv"), default="pypi")
    args = parser.parse_args()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_audit",
            "--requirement",
            str(args.lock),
            "--no-deps",
            "--disable-pip",
            "--vulnerability-service",
            args.service,
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        print(f"pip-audit did not run: {run.stderr.strip()[-2000:]}")
        return 2
    deps = report["dependencies"]
    skipped = [d for d in deps if "skip_reason" in d]
    vulnerable = [d for d in deps if d.get("vulns")]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
            print(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
    audited = len(deps) - len(skipped)
    print(
        f"{len(deps)} locked packages: {audited} audited against {args.service}, "
        f"{len(skipped)} skipped, {len(vulnerable)} with known vulnerabilities"
    )
    if skipped and not audited:
        print(
            f"NOT AUDITED: the vulnerability data of `{args.service}` is not reachable from this "
            f"machine (pip-audit: {skipped[0]['skip_reason']}). Run `make audit` where PyPI's "
            "JSON API or api.osv.dev answers (`--service osv`)."
        )
        return 2
    if vulnerable:
        return 1
    return 2 if skipped else 0


if __name__ == "__main__":
    raise SystemExit(main())
