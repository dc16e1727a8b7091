"""The ablations of several bundles (`fraud train --ablate`) as one markdown table: per
feature group and preset, the mean change of validation AP when the group is removed over
the seeds, its range, and on which presets the group earns its place.

    .venv/bin/python scripts/ablation_summary.py models/ablation_*_s*

A bundle directory's name says its preset and seed: `ablation_<preset>_s<seed>` (the
`ablation_` prefix optional); the seed only tells the runs apart.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ensemble.ablation import summary_table  # noqa: E402
from ensemble.manifest import BundleError, Manifest  # noqa: E402

NAMED = re.compile(r"^(?:ablation_)?(?P<preset>.+)_s(?P<seed>\d+)$")


def preset_of(bundle: Path) -> str:
    named = NAMED.match(bundle.name)
    if named is None:
        raise BundleError(f"{bundle}: name it <preset>_s<seed> (ablation_default_s1, say)")
    return named["preset"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", type=Path)
    args = parser.parse_args()
    runs = []
    try:
        for bundle in args.bundles:
            ablation = Manifest.read(bundle).ablation
            if not ablation:
                raise BundleError(f"{bundle}: no ablation; train it with `fraud train --ablate`")
            runs.append((preset_of(bundle), ablation))
    except BundleError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(summary_table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
