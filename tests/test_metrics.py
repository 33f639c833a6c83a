import numpy as np
import pytest
import torch

import vaebook as vb


def test_auroc_convention_higher_score_is_ood():
    assert vb.auroc([0.0, 0.1, 0.2], [1.0, 2.0]) == 1.0
    assert vb.auroc([1.0, 2.0], [0.0, 0.1]) == 0.0
    assert vb.auroc(torch.zeros(5), torch.zeros(5)) == 0.5
    with pytest.raises(ValueError, match="NaN"):
        vb.auroc([0.0, float("nan")], [1.0])


def test_logsumexp_chunked_equals_unchunked():
    a = torch.randn(7, 10001) * 30
    for chunk in (1, 999, 4096, 20000):
        torch.testing.assert_close(vb.logsumexp_chunked(lambda s: a[:, s], a.shape[1], chunk), torch.logsumexp(a, -1))


def test_batched_equals_one_call():
    x = torch.randn(1234, 3)
    torch.testing.assert_close(vb.batched(lambda b: b.sum(1), x, 100), x.sum(1))
