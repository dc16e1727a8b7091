"""tl2cgen's C code generation, run in a child process (`python -m ensemble.codegen`) whose
output is captured and logged.

tl2cgen prints from native code: an info line on stdout ("Parallel compilation enabled")
and, from its own copy of Treelite 4.1.2 reading the newer checkpoint the `treelite`
package wrote, a three-line version warning on stderr (dmlc/tl2cgen#51; the compiled
outputs are tested against xgboost and scikit-learn, docs/model.md). In our process they
would land between the demo's progress bars and live line, and in `fraud train`'s JSON on
stdout; file-descriptor writes cannot be caught around the call without catching the
progress bars' own. Those known lines are logged at INFO; any other line at WARNING (on
the terminal where logging is not configured), and a failed generation raises with all
of them: nothing new is hidden.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

KNOWN = re.compile(
    r"Parallel compilation enabled"
    r"|originated from a newer Treelite version"
    r"|^Currently running Treelite version"
    r"|^The model checkpoint was generated from Treelite version"
)


def generate_c_code(checkpoint: Path, dirpath: Path, parallel_comp: int) -> None:
    """tl2cgen's C (header.h, main.c, tu*.c) for the Treelite checkpoint, into `dirpath`."""
    done = subprocess.run(
        [sys.executable, "-m", __name__, str(checkpoint), str(dirpath), str(parallel_comp)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    output = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"tl2cgen's code generation failed (exit {done.returncode}):\n{output}")
    for line in filter(None, map(str.strip, output.splitlines())):
        log.log(level(line), "tl2cgen: %s", line)


def level(line: str) -> int:
    """INFO for the lines tl2cgen always prints, WARNING for anything else."""
    return logging.INFO if KNOWN.search(line) else logging.WARNING


def main(checkpoint: str, dirpath: str, parallel_comp: str) -> None:
    import tl2cgen
    import treelite

    model = treelite.Model.deserialize(checkpoint)
    tl2cgen.generate_c_code(model, dirpath=dirpath, params={"parallel_comp": int(parallel_comp)})


if __name__ == "__main__":
    main(*sys.argv[1:])
