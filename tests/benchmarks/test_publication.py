"""The end-to-end publication benchmark runs and checks its own outcome (everyone told once,
the copy shared with every account) at a tiny size; its figures are not judged here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_publication_benchmark_runs_end_to_end_at_a_tiny_size() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.publication", "--sizes", "5,10", "--no-postgres"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for stage in (
        "approve",
        "copy",
        "share",
        "notices queued",
        "mails sent",
        "announcements posted",
    ):
        assert f"SQLite, {stage}: statements" in done.stdout
    # 10 accounts: 10 subscribers and 2 organizations of 5 administrators, 1 channel.
    assert "10 subscriber accounts (20 mail recipients, 1 channels)" in done.stdout
