#!/usr/bin/python3
"""Reference side of the torchvision equivalence check (see scripts/check-torchvision.mjs).

For each architecture, builds torchvision's model in eval mode with seeded random weights (BN
affine parameters and zero-initialised biases randomised too, so that every tensor's mapping is
exercised; BN running statistics calibrated on random images and Linear weights N(0, 1/fan_in), so
that the logits depend on the input), runs one seeded random image through it and writes, per arch:

  OUT/<arch>/weights.bin   float32 little-endian, every tensor back to back, already in tfjs layout
  OUT/<arch>/manifest.json {arch, size, tensors: [{name, kind, shape, offset}], input: {...},
                            logits: [...] (float64 forward), logits32: [...] (float32 forward)}

Layouts: conv OIHW -> HWIO, depthwise [C,1,kh,kw] -> [kh,kw,C,1], linear [out,in] -> [in,out],
BN -> gamma, beta, running mean, running var. Tensors come in module registration order, which
the pwlu models follow when creating their layers. The input is stored NHWC.

Needs Debian's python3-torch / python3-torchvision: run with /usr/bin/python3.
Usage: /usr/bin/python3 scripts/check-torchvision.py OUT_DIR [--size 224] [--arch resnet18 ...]
"""
import argparse
import json
import os

import numpy as np
import torch
import torchvision

ARCHS = ["resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "efficientnet_b0"]


def randomise(model: torch.nn.Module, gen: torch.Generator, size: int) -> None:
    """Random weights whose signal survives the depth: random BN affine parameters, running
    statistics calibrated on a batch of random images (momentum 1: running = batch statistics;
    random running statistics make a deep net's output nearly constant), random biases."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
                continue
            if isinstance(m, torch.nn.Linear):
                # torchvision's N(0, 0.01) classifier init would leave the logits mostly bias:
                # unit-variance-preserving weights make them depend on every feature.
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) / m.in_features**0.5)
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
        bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        saved = [m.momentum for m in bns]
        for m in bns:
            m.momentum = 1.0
        model.train()
        model(torch.randn(8, 3, size, size, generator=gen))
        for m, mom in zip(bns, saved):
            m.momentum = mom


def tensors(model: torch.nn.Module):
    """(name, kind, array in tfjs layout) for every parameterised module, in registration order."""
    out = []
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            w = m.weight.detach()
            if m.groups == 1:
                out.append((f"{name}.weight", "conv", w.permute(2, 3, 1, 0)))
            elif m.groups == m.in_channels == m.out_channels:
                out.append((f"{name}.weight", "depthwise", w.permute(2, 3, 0, 1)))
            else:
                raise ValueError(f"{name}: grouped convolution not supported")
            if m.bias is not None:
                out.append((f"{name}.bias", "bias", m.bias.detach()))
        elif isinstance(m, torch.nn.Linear):
            out.append((f"{name}.weight", "linear", m.weight.detach().t()))
            out.append((f"{name}.bias", "bias", m.bias.detach()))
        elif isinstance(m, torch.nn.BatchNorm2d):
            for field in ("weight", "bias", "running_mean", "running_var"):
                out.append((f"{name}.{field}", "bn", getattr(m, field).detach()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--arch", nargs="*", default=ARCHS)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for arch in args.arch:
        torch.manual_seed(args.seed)
        gen = torch.Generator().manual_seed(args.seed + 1)
        model = getattr(torchvision.models, arch)(weights=None, num_classes=1000)
        randomise(model, gen, args.size)
        model.eval()
        x = torch.randn(1, 3, args.size, args.size, generator=gen)
        with torch.no_grad():
            logits32 = model(x)[0]
            other = model(torch.randn(1, 3, args.size, args.size, generator=gen))[0]
            logits64 = model.double()(x.double())[0]
        model.float()
        d = os.path.join(args.out, arch)
        os.makedirs(d, exist_ok=True)
        entries, offset = [], 0
        with open(os.path.join(d, "weights.bin"), "wb") as f:
            for name, kind, t in tensors(model):
                a = np.ascontiguousarray(t.float().numpy(), dtype="<f4")
                f.write(a.tobytes())
                entries.append({"name": name, "kind": kind, "shape": list(a.shape), "offset": offset})
                offset += a.size
            xi = np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy(), dtype="<f4")
            f.write(xi.tobytes())
        manifest = {
            "arch": arch,
            "size": args.size,
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "params": sum(p.numel() for p in model.parameters()),
            "tensors": entries,
            "input": {"shape": list(xi.shape), "offset": offset},
            "logits": logits64.tolist(),
            "logits32": logits32.tolist(),
            # How much the logits move for another random image: the check's sensitivity scale.
            "otherImageMaxAbsDiff": (other - logits32).abs().max().item(),
        }
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump(manifest, f)
        print(f"{arch}: {len(entries)} tensors, {manifest['params']} params, logits |max| {logits64.abs().max().item():.4g}, another image moves them by {manifest['otherImageMaxAbsDiff']:.3g}", flush=True)


if __name__ == "__main__":
    main()
