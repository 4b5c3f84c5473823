#!/usr/bin/env python3
"""The quickstart recipe (configs/quickstart.yaml) as a plain PyTorch training script: the end-to-end reference that
pwlu's own quickstart is timed against (scripts/bench/vs-pytorch.sh).

The same work as `pwlu train --config configs/quickstart.yaml`: ResNet-20 (1x1 projection shortcuts, as pwlu's and
../shared/bench/pytorch_reference.py's) on Fashion-MNIST's 60,000 training images, 1 input channel at 28 px, 4 epochs of
batch 128 in a seeded shuffle, inputs normalised with (0.286, 0.353) and flipped horizontally with p 0.5; SGD with
Nesterov momentum 0.9, lr 0.1, weight decay 5e-4 on conv and linear weights only (pwlu's no-decay group: batch norm and
biases); per-step linear warm-up over 0.2 epochs from 0.1x, then cosine to 0; the 10,000 test images evaluated after
each epoch in batches of 256 (pwlu's default: twice the training batch). Prints one JSON line: training img/s
(training steps only), wall time (from reading the files to the last evaluation) and test top-1 after each epoch.

  /usr/bin/python3 scripts/bench/quickstart_pytorch.py [--data DIR] [--threads 2] [--memory-format contiguous]
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def read_idx(path):
    with gzip.open(path, 'rb') if path.endswith('.gz') else open(path, 'rb') as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(data_dir, stem):
    for name in (f'{stem}.gz', stem):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    sys.exit(f'quickstart_pytorch: {stem}(.gz) not found in {data_dir} (apt-get install dataset-fashion-mnist, or --data DIR)')


def build_model():
    sys.path.insert(0, os.path.join(HERE, '..', '..', '..', 'shared', 'bench'))
    from pytorch_reference import ResNet20  # the reference's block layout, so both scripts time one network
    m = ResNet20(10)
    m.stem[0] = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
    return m


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--epochs', type=int, default=4)
    p.add_argument('--memory-format', default='contiguous', choices=['channels_last', 'contiguous'])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--profile-steps', type=int, default=0,
                   help='profile this many steps of the real loop (after 20 of epoch 1) with torch.profiler, print the '
                        'self time per operator and input shapes per step (as profile-model.mjs --shapes) to stderr, and stop')
    p.add_argument('--top', type=int, default=30, help='--profile-steps: rows printed')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()
    mean, std = 0.286, 0.353
    def load(split):
        x = read_idx(find(a.data, f'{split}-images-idx3-ubyte'))
        y = read_idx(find(a.data, f'{split}-labels-idx1-ubyte'))
        return ((torch.from_numpy(x.copy()).float().div_(255) - mean) / std).unsqueeze(1), torch.from_numpy(y.astype(np.int64))
    xtr, ytr = load('train')
    xte, yte = load('t10k')
    fmt = torch.channels_last if a.memory_format == 'channels_last' else torch.contiguous_format
    model = build_model().to(memory_format=fmt)
    decay = [w for n, w in model.named_parameters() if w.dim() > 1]
    no_decay = [w for n, w in model.named_parameters() if w.dim() <= 1]
    opt = torch.optim.SGD([{'params': decay, 'weight_decay': 5e-4}, {'params': no_decay, 'weight_decay': 0}], lr=0.1, momentum=0.9, nesterov=True)
    batch, epochs, warmup = 128, a.epochs, 0.2
    steps = math.ceil(len(xtr) / batch)
    def lr_at(progress):
        if progress < warmup:
            return 0.1 * (0.1 + 0.9 * progress / warmup)
        return 0.1 * 0.5 * (1 + math.cos(math.pi * min((progress - warmup) / (epochs - warmup), 1)))
    gen = torch.Generator().manual_seed(a.seed)
    train_s, images, tops = 0.0, 0, []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(xtr), generator=gen)
        t = time.perf_counter()
        for i in range(steps):
            if a.profile_steps and i == 20:
                prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True)
                prof.start()
            if a.profile_steps and i == 20 + a.profile_steps:
                prof.stop()
                s = (time.perf_counter() - t) / i
                print(f'profiled {a.profile_steps} steps of the real loop ({a.memory_format}, {a.threads} threads); '
                      f'{batch * i / (time.perf_counter() - t):.0f} img/s over the first {i} steps, profiler included', file=sys.stderr)
                rows = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)
                total = sum(e.self_cpu_time_total for e in rows) / 1e3 / a.profile_steps
                print(f'  self time {total:.1f} ms per step', file=sys.stderr)
                for e in rows[:a.top]:
                    shapes = ' '.join(str(list(v)) for v in e.input_shapes[:2] if v)
                    print(f'  {e.key:34s} {shapes:44s} {e.count // a.profile_steps:4d} calls '
                          f'{e.self_cpu_time_total / 1e3 / a.profile_steps:8.2f} ms per step', file=sys.stderr)
                return
            idx = order[i * batch:(i + 1) * batch]
            x = xtr[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x).contiguous(memory_format=fmt)
            for g in opt.param_groups:
                g['lr'] = lr_at(epoch + i / steps)
            loss = F.cross_entropy(model(x), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            images += len(idx)
        train_s += time.perf_counter() - t
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(xte), 2 * batch):  # pwlu's evaluation batch: twice the training batch
                correct += (model(xte[i:i + 2 * batch].contiguous(memory_format=fmt)).argmax(1) == yte[i:i + 2 * batch]).sum().item()
        tops.append(round(100 * correct / len(xte), 2))
        print(f'epoch {epoch + 1}: test top-1 {tops[-1]}%', file=sys.stderr, flush=True)
    print(json.dumps({
        'framework': 'pytorch', 'torch': torch.__version__, 'recipe': 'quickstart', 'threads': a.threads,
        'memory_format': a.memory_format, 'epochs': epochs, 'train_img_per_s': round(images / train_s, 1),
        'train_s': round(train_s, 1), 'wall_s': round(time.perf_counter() - t0, 1), 'test_top1': tops,
    }))


if __name__ == '__main__':
    main()
