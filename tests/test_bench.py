"""The throughput benchmark's loops run and train the same model the same way."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import train_throughput as bench  # noqa: E402


def test_bare_and_vaebook_loops_give_the_same_model():
    x = torch.rand(128, 1, 28, 28)
    a, b = bench.model(), bench.model()
    torch.manual_seed(1)  # the reparameterisation noise comes from the global generator
    bench.bare_loop(a, x, epochs=1, batch_size=64)
    torch.manual_seed(1)
    bench.vaebook_loop(b, x, epochs=1, batch_size=64)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)  # same seed, same order, same updates: the loops do the same work


def test_the_quadratic_memory_benchmark_runs_and_reports_both_metrics():
    import subprocess

    bench_file = Path(__file__).resolve().parents[1] / "bench" / "quadratic_memory.py"
    out = subprocess.run([sys.executable, str(bench_file), "--n", "600", "--m", "1500", "--dim", "4"],
                         capture_output=True, text=True, check=True).stdout
    assert "marginal_kl" in out and "optimal_decoder" in out and out.count("below the 4 GB target") == 2
