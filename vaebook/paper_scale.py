r"""The rows that go against the paper, trained and scored at the paper's scale within a time budget.

    python -m vaebook.paper_scale --budget-s 420 --out paper_scale.json [--device cuda] [--smoke] [--only NAME ...]

The chapters' numbers come from the fast profile, what a CPU affords; the paper's scale is the full datasets and
the paper's nets, epochs and runs. The rows most likely to depend on scale are the ones that go against the paper.
This module runs them, most informative first (:data:`EXPERIMENTS`), in one short GPU run (``make paper-gpu``), or
one of them, or one part of one (:data:`PARTS`), on whatever machine has the time:

1. ``ch4_baseline_bernoulli``: chapter 4's Table 1 Bernoulli baseline, which is chapter 1's Table 1 Bernoulli row and
   its Table 5 at D = 10 (the same model: conv nets, latent 10, RMSprop lr 1e-4, batch 50, 100 epochs on all of
   Fashion-MNIST, 5 runs); the Bernoulli rows first, since the claims that go against the paper are theirs;
2. ``ch4_adversarial_bernoulli``: its adversarial row; 3., 4. the Gaussian baseline and adversarial rows;
5. ``ch4_auxiliary``: the auxiliary rows (EMNIST-Letters), which already agree with the paper;
6. ``ch1_table5``: chapter 1's Table 5, the Bernoulli VAE at D = 50, 100, 250 and 500;
7. ``ch7_pair``: chapter 7's deep and shallow VAEs on all of MNIST (with and without the 9s, 200 epochs, 3 runs);
8. ``ch6_ratio``: chapter 6's density-ratio classifier, to convergence, on its main VAE;
9. ``ch4_noise``: chapter 4's Table 3 noise negatives;

and the part ``ch7_unseen``: ``ch7_pair``'s two models without the 9s, its Fig. 2 claims at half its cost.

The runs of one model are trained as one batched model (:mod:`vaebook.stacked`), the data resident on the device.
Before an experiment starts, a few timed steps of each of its models give its cost; an experiment that cannot finish
in the time left runs with fewer runs, or is skipped (and says so, with its estimate). The results file is written
whole after each experiment, so a run cut short keeps what finished. Each experiment records its numbers under the
names the chapters record (``auc_kl_bernoulli``: the mean over runs, with the per-run values and their spread), its
runs, epochs, data, seconds, step times and estimate; the file records the device, torch, the commit, a fingerprint
of the library's code and the date. ``--smoke`` runs the same code at toy size (bundled subsets, one epoch, two
runs) in seconds on a CPU: its file says ``"paper_scale": false``, and the book never shows it. A run on a CPU
at full size is paper scale (the device changes the time, not the numbers): the part ``ch7_unseen`` (:data:`PARTS`)
is what one affords: three runs in 78 minutes on two cores.

It needs python3 with torch, numpy, pandas, scipy and scikit-learn, the repository, and the official files of
Fashion-MNIST, MNIST and EMNIST-Letters under ``$VAEBOOK_DATA`` (the Makefile's ``paper-gpu`` target).

A run's file is committed under ``vaebook/bundle/paper_scale/``; :func:`vaebook.claims.paper_scale_runs` reads them, and a
chapter's claims table gives each claim's verdict at the paper's scale beside its verdict over the fast profile's
seeds (chapter 7's pair, so far).

Used in: ``make paper-gpu``; its results in the chapters' claims tables (:mod:`vaebook.claims`).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import platform
import statistics
import subprocess
import time
import traceback
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from . import negative as neg
from . import settings
from .aggregate import AggregatePosterior, elbo_surgery
from .data import load
from .distributions import ShiftedNormal, StandardNormal
from .files import write_atomic
from .likelihoods import Bernoulli, Gaussian
from .metrics import auroc
from .nets import ConvNets, MLPNets
from .optimal_decoder import OptimalDecoder, reconstruct
from .ratio import ratio_kl
from .scores import KL, BitsPerDim, ood_scores
from .stacked import ELBO, AdversarialNegatives, Negatives, Recipe, fit_batched
from .train import FitConfig, _own_random_state
from .vae import VAE, Decoder, Encoder

__all__ = ["EXPERIMENTS", "PARTS", "run", "main"]

ROOT = Path(__file__).resolve().parents[1]
FORMAT = 1


# ------------------------------------------------------------------------------------------------ experiments
@dataclass
class Context:
    """Where and how big: the device, smoke or paper scale, the batched path's settings, and the deadline."""
    device: torch.device
    smoke: bool
    deadline: float
    fit: dict = field(default_factory=dict)  # noise, tf32, graphs, compile for fit_batched

    def pick(self, full, smoke):
        return smoke if self.smoke else full

    def load(self, name: str, split: str, n: int | None = None) -> Tensor:
        return load(name, split, n, profile="smoke" if self.smoke else "full").tensor().to(self.device)


@dataclass
class Group:
    """Models of one architecture and recipe, one per run, trained together."""
    label: str
    build: Callable[[], nn.Module]
    recipe: Recipe
    data: Tensor
    config: FitConfig

    @property
    def steps(self) -> int:
        return self.config.epochs * -(-len(self.data) // self.config.batch_size)


@dataclass
class Plan:
    """An experiment's groups, its runs, how to score its trained models (``score(models, run) -> {chapter: {name:
    value}}``, ``models[label]`` being run ``run``'s model of each group), and what to record about it."""
    groups: list[Group]
    runs: int
    score: Callable[[dict[str, nn.Module], int], dict[str, dict[str, float]]]
    about: dict


def _vae(nets, latent_dim: int, likelihood: type, source: neg.Source | None = None) -> Callable[[], VAE]:
    def build():
        enc, dec = nets(latent_dim, likelihood.decoder_outputs)
        enc = enc if source is None else source.prepare(enc)
        return VAE(Encoder(enc), Decoder(dec, likelihood()), StandardNormal(latent_dim))
    return build


LIKELIHOODS = {"bernoulli": Bernoulli, "gaussian": Gaussian}
SCORES = [BitsPerDim(), KL()]
BPD, KLN = (s.name for s in SCORES)


def _ch4(ctx: Context, key: str, source: neg.Source | None, likelihoods=("bernoulli", "gaussian"),
         extra: Callable | None = None) -> Plan:
    """Chapter 4's grey-image models (and chapter 1's, ``source=None``): Fashion-MNIST inliers, MNIST outliers, the
    full profile's conv nets, latent 10, shift 8, RMSprop lr 1e-4, batch 50, 100 epochs, 5 runs."""
    n_train, n_test = ctx.pick(None, 64), ctx.pick(None, 32)
    x = ctx.load("fashion-mnist", "train", n_train)
    tests = {"in": ctx.load("fashion-mnist", "test", n_test), "mnist": ctx.load("mnist", "test", n_test)}
    latent, epochs = 10, ctx.pick(100, 1)
    prior = ShiftedNormal(latent, 8.0).to(ctx.device)
    recipe = ELBO() if source is None else (AdversarialNegatives(prior) if isinstance(source, neg.Adversarial)
                                            else Negatives(source, prior))
    config = FitConfig(epochs=epochs, batch_size=50, optimizer=partial(torch.optim.RMSprop, lr=1e-4))
    groups = [Group(lik, _vae(ConvNets(), latent, LIKELIHOODS[lik], source), recipe, x, config) for lik in likelihoods]

    def score(models, run):
        out = {"04_negative_sampling": {}, "01_ood_puzzle": {}}
        for lik, vae in models.items():
            torch.manual_seed(run)
            s = {label: ood_scores(vae, t, SCORES, batch_size=ctx.pick(2000, 500)) for label, t in tests.items()}
            for short, name in (("bpd", BPD), ("kl", KLN)):
                out["04_negative_sampling"][f"auc_{short}_{key}_{lik}"] = auroc(s["in"][name], s["mnist"][name])
            if extra is not None:
                extra(out, lik, s)
        return {k: v for k, v in out.items() if v}

    about = {"model": f"ConvNets, latent {latent}, {recipe!r}, RMSprop lr 1e-4, batch 50", "n_train": len(x),
             "n_test": {k: len(t) for k, t in tests.items()}}
    return Plan(groups, ctx.pick(5, 2), score, about)


def _ch1_rows(out, lik, s):
    """Chapter 1's Table 1 (and Table 5 at D = 10): the same model as chapter 4's baseline."""
    ch1 = out["01_ood_puzzle"]
    for short, name in (("bpd", BPD), ("kl", KLN)):
        ch1[f"auc_{short}_{lik}"] = auroc(s["in"][name], s["mnist"][name])
    if lik == "bernoulli":
        ch1["sweep_auc_bpd_d10"], ch1["sweep_auc_kl_d10"] = ch1["auc_bpd_bernoulli"], ch1["auc_kl_bernoulli"]
        ch1["bpd_in_bernoulli"], ch1["bpd_mnist_bernoulli"] = s["in"][BPD].mean().item(), s["mnist"][BPD].mean().item()


def ch4_baseline(lik: str) -> Callable[[Context], Plan]:
    return lambda ctx: _ch4(ctx, "baseline", None, (lik,), extra=_ch1_rows)


def ch4_adversarial(lik: str) -> Callable[[Context], Plan]:
    return lambda ctx: _ch4(ctx, "adv", neg.Adversarial(), (lik,))


def ch4_auxiliary(ctx: Context) -> Plan:
    """EMNIST-Letters as the auxiliary set, as the full profile has it (all the train images there are)."""
    return _ch4(ctx, "aux", neg.Auxiliary(ctx.load("emnist-letters", "train", ctx.pick(None, 64))))


def ch4_noise(ctx: Context) -> Plan:
    plans = [_ch4(ctx, key, src, likelihoods=("bernoulli",))
             for key, src in (("uniform", neg.UniformNoise()), ("noise", neg.GaussianNoise(0.25)))]
    for p, key in zip(plans, ("uniform", "noise")):
        p.groups[0].label = key

    def score(models, run):
        out = {}
        for p, key in zip(plans, ("uniform", "noise")):
            for ch, v in p.score({"bernoulli": models[key]}, run).items():
                out.setdefault(ch, {}).update(v)
        return out
    return Plan([g for p in plans for g in p.groups], plans[0].runs, score,
                {**plans[0].about, "model": "ConvNets, latent 10, uniform and Gaussian-noise (σ 0.25) negatives"})


def ch1_table5(ctx: Context) -> Plan:
    """Chapter 1's Table 5: the Bernoulli VAE of Table 1 at larger latent sizes (D = 10 is ``ch4_baseline``)."""
    x = ctx.load("fashion-mnist", "train", ctx.pick(None, 64))
    config = FitConfig(epochs=ctx.pick(100, 1), batch_size=50, optimizer=partial(torch.optim.RMSprop, lr=1e-4))
    dims = ctx.pick([50, 100, 250, 500], [50, 100])
    groups = [Group(f"d{d}", _vae(ConvNets(), d, Bernoulli), ELBO(), x, config) for d in dims]
    tests = {"in": ctx.load("fashion-mnist", "test", ctx.pick(None, 64)), "mnist": ctx.load("mnist", "test", ctx.pick(None, 64))}

    def score(models, run):
        out = {}
        for label, vae in models.items():
            torch.manual_seed(run)
            s = {k: ood_scores(vae, t, SCORES, batch_size=ctx.pick(2000, 500)) for k, t in tests.items()}
            out[f"sweep_auc_bpd_{label}"] = auroc(s["in"][BPD], s["mnist"][BPD])
            out[f"sweep_auc_kl_{label}"] = auroc(s["in"][KLN], s["mnist"][KLN])
        return {"01_ood_puzzle": out}
    about = {"model": f"ConvNets, Bernoulli, D in {dims}, ELBO(), RMSprop lr 1e-4, batch 50", "n_train": len(x),
             "n_test": {k: len(t) for k, t in tests.items()}}
    return Plan(groups, ctx.pick(5, 2), score, about)


def ch7_pair(ctx: Context, all_digits: bool = True) -> Plan:
    """Chapter 7's shallow (400) and deep (400-200-100) Bernoulli MLP VAEs, latent 50, Adam lr 1e-3, batch 100, 200
    epochs, on all of MNIST without the 9s and, with ``all_digits``, with them; 3 runs. Without ``all_digits``
    (:data:`PARTS`' ``ch7_unseen``) only the pair that never saw a 9 is trained: Fig. 2's claims at half the cost,
    without the comparison with the models that saw them."""
    held_out = 9
    train = load("mnist", "train", ctx.pick(None, 200), profile="smoke" if ctx.smoke else "full")
    test = load("mnist", "test", ctx.pick(None, 100), profile="smoke" if ctx.smoke else "full")
    x_no = train.subset([d for d in range(10) if d != held_out]).tensor().to(ctx.device)
    x_out = test.subset([held_out]).tensor().to(ctx.device)
    x_seen = test.subset([d for d in range(10) if d != held_out]).tensor().to(ctx.device)
    sets = {"no9": x_no, **({"all": train.tensor().to(ctx.device)} if all_digits else {})}
    archs = {"shallow": (400,), "deep": (400, 200, 100)}
    config = FitConfig(epochs=ctx.pick(200, 1), batch_size=100, optimizer=partial(torch.optim.Adam, lr=1e-3))
    groups = [Group(f"{arch}_{on}", _vae(MLPNets(hidden), 50, Bernoulli), ELBO(), x, config)
              for arch, hidden in archs.items() for on, x in sets.items()]

    def score(models, run):
        out = {}
        for arch in archs:
            no9 = models[f"{arch}_no9"]
            opt = OptimalDecoder.from_vae(no9, x_no)
            unseen, seen = reconstruct(no9, opt, x_out), reconstruct(no9, opt, x_seen)
            out[f"{arch}_closer_to_mu_frac"] = unseen.closer_to_mu
            out[f"perplexity_median_{arch}"] = seen.stats.perplexity.median().item()
            out[f"perplexity_median_{arch}_unseen"] = unseen.stats.perplexity.median().item()
            if all_digits:
                m = models[f"{arch}_all"]
                all_ = reconstruct(m, OptimalDecoder.from_vae(m, sets["all"]), x_out)
                out[f"perplexity_median_{arch}_all"] = all_.stats.perplexity.median().item()
                out[f"bce_mu_ratio_all_vs_no{held_out}_{arch}"] = (all_.bce_mu.median().item()
                                                                   / unseen.bce_mu.median().item())
        out["shallow_closer_to_x_frac"] = 1 - out["shallow_closer_to_mu_frac"]
        return {"07_novel_examples": out}
    about = {"model": "MLPNets (400,) and (400, 200, 100), Bernoulli, latent 50, Adam lr 1e-3, batch 100",
             "n_train": {on: len(x) for on, x in sets.items()}, "n_test": {"9s": len(x_out), "seen": len(x_seen)}}
    return Plan(groups, ctx.pick(3, 2), score, about)


def ch6_ratio(ctx: Context) -> Plan:
    """Chapter 6's main VAE (conv nets, Bernoulli, D = 10, Adam lr 1e-3, batch 64, 100 epochs on all of MNIST), its
    marginal KL by Monte Carlo (100,000 draws), and the density-ratio classifier trained to convergence (up to
    25,000 steps; on the CPU: ``vaebook.ratio`` builds its classifier there)."""
    x = ctx.load("mnist", "train", ctx.pick(None, 64))
    config = FitConfig(epochs=ctx.pick(100, 1), batch_size=64, optimizer=partial(torch.optim.Adam, lr=1e-3))
    mc, steps = ctx.pick(100_000, 500), ctx.pick(25_000, 50)

    def score(models, run):
        vae = models["main"]
        q = AggregatePosterior.from_vae(vae, x)
        surgery = elbo_surgery(vae, x, n=mc, generator=torch.Generator().manual_seed(run), q=q)
        prior = vae.prior()
        r = ratio_kl(lambda n: q.sample((n,)).cpu(), lambda n: prior.sample((n,)).cpu(), dim=q.loc.shape[1],
                     max_steps=steps, seed=run)
        return {"06_distribution_matching": {
            **{k: surgery[k] for k in ("avg_kl", "marginal_kl", "mutual_info", "log_n")},
            "ratio_kl_estimate": r.kl, "ratio_converged": float(r.converged), "ratio_steps_main": float(r.steps)}}
    about = {"model": "ConvNets, Bernoulli, D = 10, Adam lr 1e-3, batch 64; ratio classifier MLP (256, 256)",
             "n_train": len(x), "mc_samples": mc, "ratio_max_steps": steps}
    return Plan([Group("main", _vae(ConvNets(), 10, Bernoulli), ELBO(), x, config)], ctx.pick(3, 2), score, about)


# name -> how to plan it, most informative first
EXPERIMENTS: dict[str, Callable[[Context], Plan]] = {
    "ch4_baseline_bernoulli": ch4_baseline("bernoulli"), "ch4_adversarial_bernoulli": ch4_adversarial("bernoulli"),
    "ch4_baseline_gaussian": ch4_baseline("gaussian"), "ch4_adversarial_gaussian": ch4_adversarial("gaussian"),
    "ch4_auxiliary": ch4_auxiliary, "ch1_table5": ch1_table5, "ch7_pair": ch7_pair, "ch6_ratio": ch6_ratio,
    "ch4_noise": ch4_noise,
}
# Parts of an experiment above, run only when named (``--only``): what a machine that cannot afford the whole can run
PARTS: dict[str, Callable[[Context], Plan]] = {"ch7_unseen": partial(ch7_pair, all_digits=False)}


def check_graphs(device: torch.device, steps: int = 8) -> dict:
    """On CUDA, whether the CUDA-graph step trains as the plain one: two small MLP VAEs, ``steps`` steps each way with
    each model's own random numbers (``noise="exact"``); the losses and weights must agree to 1e-4."""
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(8 * 64, 1, 28, 28, generator=g) ** 3).to(device)
    build = _vae(MLPNets((64,)), 4, Bernoulli)
    out = []
    for graphs in (False, True):
        models = []
        for s in (0, 1):
            with _own_random_state(s):
                models.append(build().to(device))
        h = fit_batched(models, ELBO(), x, epochs=2, batch_size=64, seeds=(0, 1), noise="exact", graphs=graphs,
                        max_batches=steps // 2)
        out.append((h, torch.cat([p.detach().flatten() for m in models for p in m.parameters()])))
    (plain, w0), (graph, w1) = out
    diff = max(abs(a - b) for la, lb in zip(plain.loss, graph.loss) for a, b in zip(la, lb))
    ok = graph.settings["graphs"] and diff < 1e-4 * abs(plain.loss[0][0]) and (w0 - w1).abs().max().item() < 1e-4
    return {"ok": bool(ok), "loss_diff": diff, "weight_diff": (w0 - w1).abs().max().item(), "settings": graph.settings}


# ------------------------------------------------------------------------------------------------ running
def _build(group: Group, runs: int) -> list[nn.Module]:
    models = []
    for s in range(runs):
        with _own_random_state(s):
            models.append(group.build().to(group.data.device))
    return models


def _step_seconds(ctx: Context, group: Group, runs: int, probe: int) -> float:
    """Seconds per step of ``runs`` models of ``group`` together: ``probe`` steps timed after as many warm-up."""
    models = _build(group, runs)
    kw = dict(epochs=1, batch_size=group.config.batch_size, optimizer=group.config.optimizer, seeds=range(runs),
              max_batches=probe, **ctx.fit)
    fit_batched(models, group.recipe, group.data, **kw)
    h = fit_batched(models, group.recipe, group.data, **kw)
    return h.seconds / max(h.steps, 1)


def _estimate(ctx: Context, plan: Plan, runs: int, probe: int) -> tuple[float, dict]:
    """Seconds to train ``runs`` runs of every group (scoring: 10 % more, at least 5 s), and each group's step time."""
    step = {g.label: _step_seconds(ctx, g, runs, probe) for g in plan.groups}
    train = sum(step[g.label] * g.steps for g in plan.groups)
    return train + max(0.1 * train, 5.0), {k: round(v * 1e3, 3) for k, v in step.items()}


def _summary(per_run: list[dict]) -> dict:
    """``{chapter: {name: {"value", "std", "per_run"}}}`` from each run's ``{chapter: {name: value}}``."""
    out = {}
    for chapter in per_run[0]:
        for name in per_run[0][chapter]:
            v = [float(r[chapter][name]) for r in per_run]
            out.setdefault(chapter, {})[name] = {"value": statistics.fmean(v),
                                                 "std": statistics.stdev(v) if len(v) > 1 else None, "per_run": v}
    return out


def run_experiment(ctx: Context, name: str, plan: Plan, probe: int) -> dict:
    """Estimate, then train and score ``plan`` if it fits before the deadline; the experiment's record."""
    record = {"status": None, "paper_runs": plan.runs, **plan.about,
              "epochs": {g.label: g.config.epochs for g in plan.groups}}
    started = time.monotonic()
    runs = plan.runs
    estimate, step_ms = _estimate(ctx, plan, runs, probe)
    left = ctx.deadline - time.monotonic()
    if estimate > left and runs > 1:  # fewer runs: each run of a batched model costs less than a model alone
        one, step_one = _estimate(ctx, plan, 1, probe)
        per_run = (estimate - one) / (runs - 1)
        left = ctx.deadline - time.monotonic()
        runs = max(1, min(runs - 1, int((left - one) // per_run) + 1 if per_run > 0 else runs - 1))
        estimate = one + per_run * (runs - 1)
        step_ms = {"runs": runs, **(step_one if runs == 1 else step_ms)}
    record.update(estimated_s=round(estimate, 1), step_ms=step_ms, runs=runs)
    if estimate > left:
        record.update(status="skipped", reason=f"estimated {estimate:.0f} s at {runs} run(s), {left:.0f} s left")
        return record
    trained = {}
    for g in plan.groups:
        models = _build(g, runs)
        h = fit_batched(models, g.recipe, g.data, epochs=g.config.epochs, batch_size=g.config.batch_size,
                        optimizer=g.config.optimizer, seeds=range(runs), deadline=ctx.deadline, **ctx.fit)
        trained[g.label] = [m.eval() for m in models]
        record.setdefault("train_s", {})[g.label] = h.seconds
        record.setdefault("settings", h.settings)
        record.setdefault("final_loss", {})[g.label] = [round(l[-1], 4) for l in h.loss]
    per_run = [plan.score({label: ms[r] for label, ms in trained.items()}, r) for r in range(runs)]
    record.update(status="done", values=_summary(per_run), seconds=round(time.monotonic() - started, 1))
    return record


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return settings.current().commit or "unknown"  # a copy without .git (the device machine): $VAEBOOK_COMMIT


def _code_fingerprint() -> str:
    """sha256 of the library's source files: which code ran, where no commit can be read."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def provenance(device: torch.device, smoke: bool, budget_s: float, fit: dict) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {"device": device.type, "device_name": name, "torch": torch.__version__, "cuda": torch.version.cuda,
            "python": platform.python_version(), "commit": _commit(), "code": _code_fingerprint(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "smoke": smoke,
            "budget_s": budget_s, "threads": torch.get_num_threads(), "fit": fit,
            "data": str(settings.current().data).replace(str(Path.home()), "~") if not smoke else "bundled subsets"}


def run(out: str | Path, budget_s: float, device: torch.device, smoke: bool = False, only: list[str] | None = None,
        fit: dict | None = None, probe: int | None = None) -> dict:
    """Every experiment of :data:`EXPERIMENTS` (or ``only`` those) in order, within ``budget_s`` seconds from now,
    the results written to ``out`` after each. Returns the results."""
    started = time.monotonic()
    fit = dict(fit or {})
    ctx = Context(device, smoke, started + budget_s - ctx_margin(budget_s), fit)
    known = {**EXPERIMENTS, **PARTS}
    names = [n for n in known if n in only] if only else list(EXPERIMENTS)
    if unknown := set(only or ()) - set(known):
        raise SystemExit(f"unknown experiments {sorted(unknown)}; choose from {list(known)}")
    results = {"format": FORMAT, "paper_scale": not smoke,
               "provenance": provenance(device, smoke, budget_s, fit), "experiments": {}}
    probe = probe or (3 if smoke else 20)
    if fit.get("graphs") and device.type == "cuda":
        check = check_graphs(device)
        results["provenance"]["graphs_check"] = check
        fit["graphs"] = check["ok"]
        print(f"CUDA graph check: {check}", flush=True)
    for name in names:
        print(f"[{time.monotonic() - started:7.1f} s] {name}", flush=True)
        try:
            record = run_experiment(ctx, name, known[name](ctx), probe)
        except TimeoutError as e:
            record = {"status": "cut", "reason": str(e)}
        except Exception as e:  # one experiment's failure is recorded; the others still run
            record = {"status": "failed", "reason": f"{type(e).__name__}: {e}", "trace": traceback.format_exc(limit=4)}
        results["experiments"][name] = record
        results["seconds"] = round(time.monotonic() - started, 1)
        write_atomic(out, json.dumps(results, indent=1, default=str), what="paper-scale results")
        print(f"           {record['status']}: " + ", ".join(
            f"{k} {v}" for k, v in record.items() if k in ("runs", "estimated_s", "seconds", "reason")), flush=True)
    return results


def ctx_margin(budget_s: float) -> float:
    """Seconds kept back from the budget for the last write and the process's exit."""
    return min(30.0, 0.05 * budget_s)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m vaebook.paper_scale", description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, required=True, help="wall-clock seconds for the whole run")
    ap.add_argument("--out", required=True, help="the results file (JSON), written after each experiment")
    ap.add_argument("--device", default=None, help="default: cuda if present, else cpu")
    ap.add_argument("--smoke", action="store_true", help="toy size on bundled data: tests the code, measures nothing")
    ap.add_argument("--only", nargs="*", help=f"experiments to run, of {list(EXPERIMENTS)} and the parts {list(PARTS)}")
    ap.add_argument("--tf32", action="store_true", help="TF32 matrix products (default: torch's setting)")
    ap.add_argument("--graphs", action="store_true", help="a CUDA graph of each training step")
    ap.add_argument("--compile", action="store_true", help="torch.compile the batched losses")
    ap.add_argument("--probe", type=int, default=None, help="steps timed per group for the estimate")
    args = ap.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    fit = {"tf32": True if args.tf32 else None, "graphs": args.graphs, "compile": args.compile}
    results = run(args.out, args.budget_s, device, args.smoke, args.only, fit, args.probe)
    done = [n for n, r in results["experiments"].items() if r["status"] == "done"]
    print(f"{len(done)} of {len(results['experiments'])} experiments done in {results.get('seconds')} s: {done}; "
          f"results in {args.out}" + ("" if results["paper_scale"] else " (not paper scale: a smoke run)"))
    return results


if __name__ == "__main__":
    main()
