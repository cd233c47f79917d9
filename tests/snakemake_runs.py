"""Running the real workflow from tests: a Snakemake dry-run and its planned job counts."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def dry_run(workdir: Path, *args: str) -> tuple[int, dict[str, int], str]:
    """``snakemake -n`` in ``workdir``; returns (exit code, {rule: planned jobs}, output)."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--directory", str(workdir)]
        + ["--snakefile", str(ROOT / "Snakefile"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = proc.stdout + proc.stderr
    counts = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^([a-z_]+)\s+(\d+)$", output, flags=re.MULTILINE)
    }
    return proc.returncode, counts, output
