"""The README's example runs: it trains a VAE, scores two test sets and prints an AUROC per score.

The example is taken from README.md as written, with one change: its sizes line (``n_train, epochs = ...``)
is replaced by a tiny one, so that it runs in seconds on one thread. A second run trains nothing: the model
comes from the cache (``train_or_load``'s derived key), as the README says.
"""
import contextlib
import io
import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"
SIZES = re.compile(r"^n_train, epochs = .*$", re.M)
TINY = "n_train, epochs = 300, 1"


def example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, f"README.md should hold one python example, found {len(blocks)}"
    code, n = SIZES.subn(TINY, blocks[0])
    assert n == 1, "the README example should set its sizes on one line, `n_train, epochs = ...`"
    return code


def run(code: str) -> tuple[dict, str]:
    torch.manual_seed(0)  # the ELBO's posterior sample: the same draws in both runs
    namespace, out = {"__name__": "readme"}, io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), namespace)
    return namespace, out.getvalue()


def test_the_readme_example_trains_scores_and_prints_an_auroc_per_score():
    code = example()
    namespace, printed = run(code)
    assert namespace["history"]["from_cache"] is False and len(namespace["history"]["loss"]) == 1
    aurocs = [float(v) for v in re.findall(r"AUROC .*: (\d\.\d\d)$", printed, flags=re.M)]
    assert len(aurocs) == 2 and all(0 <= a <= 1 for a in aurocs), printed
    assert "bits/dim (ELBO)" in printed and "KL (nats)" in printed, printed
    namespace, again = run(code)
    assert namespace["history"]["from_cache"] is True, "a second run of the example trained its model again"
    assert again == printed, "the model loaded from the cache scored otherwise than the one trained"
