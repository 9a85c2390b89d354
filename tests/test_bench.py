"""bench/run.py --quick: every part of the benchmark runs to the end, so it cannot break unseen."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# Every part but the slider's, which only runs the browser tests (tests/browser, run by the suite itself) and reads
# the latencies they write: run here too, it would start JupyterLab a second time beside them, on their files.
PARTS = "training,memory,panel,workshop"


def test_the_quick_benchmark_runs_every_part_and_writes_its_results(mirror, tmp_path):
    out = tmp_path / "results.json"
    env = {**os.environ, "TEXTGEN_CORPUS_MIRROR": str(mirror)}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--parts", PARTS, "--out",
                           str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["quick"] is True and sorted(results["dates"]) == ["memory", "panel", "slider", "training",
                                                                  "workshop"]
    for key in ("train_speedup", "time_to_book_quality", "best_val_nats_cpu", "ours_epoch_log",  # training
                "generate_speedup", "multi_temperature_cost",  # generation
                "window_memory_mb", "onehot_refused",  # memory
                "rows8_cost", "panel_ms_400_chars",  # panel
                "workshop_live_run",  # notebook 4's live cell
                "slider_latency_ms", "targets"):  # the slider's, kept from bench/results.json; the verdicts
        assert key in results, key
    # Two rounds: ours went on from its checkpoint in the second, as every later round of the full run does.
    (minutes_1, _), (minutes_2, _) = results["curves"]["ours"]
    assert minutes_2 > minutes_1
    live = results["workshop_live_run"]
    assert live["seeds"] == [0] and len(live["val_nats_per_seed"]) == 1 and live["runs"][0]["epochs"] >= 1
    assert "## Notebook 4's live run" in (tmp_path / "benchmarks.md").read_text()
    assert (tmp_path / "benchmarks.md").read_text().startswith("# Benchmarks")
