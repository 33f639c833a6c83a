"""Images per second of vaebook's training loop against a bare PyTorch loop, same model, data and steps.

    python -m bench.train_throughput [--epochs 3] [--n 10000] [--json bench/results/train_throughput.json]

Prints the throughputs and the ratio vaebook / bare (the target is >= 0.9). "bare" makes torch's default Adam
(one pass per operation and parameter), "bare, fused" the fused Adam that ``vb.fit`` makes: the first ratio shows
what a chapter gains, the second what vaebook's loop costs beside the same optimiser. Each loop
runs ``--repeats`` times, alternating, and the best time of each is kept. When pythae
is installed (``pip install pythae``; not a requirement of the book) its ``BaseTrainer``
trains the same networks on the same ELBO as a third comparison.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from functools import partial
from pathlib import Path

import torch

import vaebook as vb
from bench import write_results


def model(seed: int = 0) -> vb.VAE:
    torch.manual_seed(seed)
    enc, dec = vb.MLPNets((512, 256))(10, 1)
    return vb.VAE(vb.Encoder(enc), vb.Decoder(dec, vb.Bernoulli()), vb.StandardNormal(10))


def bare_loop(vae: vb.VAE, x: torch.Tensor, epochs: int, batch_size: int, fused: bool | None = None) -> None:
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3, fused=fused)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for start in range(0, len(x), batch_size):
            loss = vae.loss(x[order[start:start + batch_size]])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def vaebook_loop(vae: vb.VAE, x: torch.Tensor, epochs: int, batch_size: int) -> None:
    vb.fit(vae.loss, vae.parameters(), x, epochs=epochs, batch_size=batch_size,
           optimizer=partial(torch.optim.Adam, lr=1e-3), generator=torch.Generator().manual_seed(0))


def pythae_loop(vae: vb.VAE, x: torch.Tensor, epochs: int, batch_size: int) -> None:
    """The same encoder and decoder networks, trained by pythae's VAE loss and BaseTrainer (its own loop)."""
    import logging

    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    logging.getLogger("pythae").setLevel(logging.ERROR)
    enc_net, dec_net = vae.encoder.net, vae.decoder.net

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = enc_net

        def forward(self, x):
            mu, pre = self.net(x).chunk(2, dim=-1)
            scale = torch.nn.functional.softplus(pre) + 1e-4  # the same posterior as vaebook's Encoder
            return ModelOutput(embedding=mu, log_covariance=2 * scale.log())

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = dec_net

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    model = VAE(VAEConfig(input_dim=(1, 28, 28), latent_dim=10, reconstruction_loss="bce"),
                encoder=Encoder(), decoder=Decoder())
    with tempfile.TemporaryDirectory() as out:
        config = BaseTrainerConfig(output_dir=out, num_epochs=epochs, learning_rate=1e-3,
                                   per_device_train_batch_size=batch_size, optimizer_cls="Adam",
                                   steps_saving=None, no_cuda=True)
        BaseTrainer(model, BaseDataset(x, torch.zeros(len(x))), training_config=config).train()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    os.environ["VAEBOOK_PROGRESS"] = "0"  # measure the loop, not the progress bar
    x = vb.load("fashion-mnist", "train", args.n, profile="fast").tensor()
    loops = [("bare", bare_loop), ("bare, fused", partial(bare_loop, fused=True)), ("vaebook", vaebook_loop)]
    if importlib.util.find_spec("pythae") is not None:
        loops.append(("pythae", pythae_loop))
    else:
        print("pythae is not installed: `pip install pythae` adds it as a third comparison")
    best = {name: float("inf") for name, _ in loops}
    for r in range(args.repeats):
        for name, loop in (loops if r % 2 == 0 else loops[::-1]):  # alternate which runs first
            vae = model()
            t = time.perf_counter()
            loop(vae, x, args.epochs, args.batch_size)
            best[name] = min(best[name], time.perf_counter() - t)
    images = args.epochs * args.n
    for name, t in best.items():
        print(f"{name:12s} {images / t:9.0f} images/s  ({t:.2f} s for {args.epochs} epochs of {args.n})")
    print(f"ratio vaebook / bare: {best['bare'] / best['vaebook']:.3f}  (target >= 0.9)")
    print(f"ratio vaebook / bare, fused: {best['bare, fused'] / best['vaebook']:.3f}  (the loop's own cost)")
    if "pythae" in best:
        print(f"ratio vaebook / pythae: {best['pythae'] / best['vaebook']:.3f}")
    if args.json:
        write_results(args.json, "bench.train_throughput", epochs=args.epochs, images=args.n,
                      batch_size=args.batch_size, repeats=args.repeats, best_seconds=best,
                      images_per_s={name: images / t for name, t in best.items()},
                      ratio_vaebook_to_bare=best["bare"] / best["vaebook"])


if __name__ == "__main__":
    main()
