"""Where PyTorch's training step of the quickstart network goes, per operator (torch.profiler): the counterpart of
`node scripts/profile-model.mjs --arch resnet20 --stem small --size 28 --channels 1 --batch 128` for pwlu, to find which
kernels make one side slower (scripts/bench/vs-pytorch.sh measures the totals).

  /usr/bin/python3 scripts/bench/profile_pytorch_step.py [--threads 2] [--batch 128] [--memory-format channels_last]
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quickstart_pytorch import build_model, find, read_idx  # noqa: E402  the quickstart network (ResNet-20, 1 channel)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--size', type=int, default=28)
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--memory-format', default='channels_last', choices=['channels_last', 'contiguous'])
    p.add_argument('--top', type=int, default=25)
    p.add_argument('--lr', type=float, default=0.1)
    p.add_argument('--flush-denormal', action='store_true', help='torch.set_flush_denormal(True) first')
    p.add_argument('--fresh', action='store_true', help='a new batch every step (default: one fixed batch)')
    p.add_argument('--shapes', action='store_true', help='one row per operator and input shapes (profile-model.mjs --shapes), per step')
    p.add_argument('--data', default=None, help="Fashion-MNIST's folder: step over its first images (normalised as the quickstart) instead of random ones")
    a = p.parse_args()
    if a.flush_denormal:
        torch.set_flush_denormal(True)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    fmt = torch.channels_last if a.memory_format == 'channels_last' else torch.contiguous_format
    model = build_model().to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    n = a.batch * (a.steps + 3)
    if a.data:
        imgs = torch.from_numpy(read_idx(find(a.data, 'train-images-idx3-ubyte'))[:n].copy()).float().div_(255)
        xs = ((imgs - 0.286) / 0.353).unsqueeze(1)
        ys = torch.from_numpy(read_idx(find(a.data, 'train-labels-idx1-ubyte'))[:n].astype('int64'))
    else:
        xs = torch.randn(n, 1, a.size, a.size)
        ys = torch.randint(0, 10, (n,))
    k = [0]

    def batch():
        # --fresh: the next batch each step, as a training loop takes them; else one fixed batch, as a benchmark does.
        i = k[0] % (a.steps + 3) if a.fresh else 0
        k[0] += 1
        return xs[i * a.batch:(i + 1) * a.batch].contiguous(memory_format=fmt), ys[i * a.batch:(i + 1) * a.batch]

    def step():
        x, y = batch()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    s = (time.perf_counter() - t0) / a.steps
    print(f'unprofiled: {s * 1000:.1f} ms per step, {a.batch / s:.0f} img/s ({a.memory_format}, {a.threads} threads)', file=sys.stderr)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=a.shapes) as prof:
        for _ in range(a.steps):
            step()
    if not a.shapes:
        print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=a.top), file=sys.stderr)
        return
    rows = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)[:a.top]
    for e in rows:
        shapes = ' '.join(str(list(s)) for s in e.input_shapes[:2] if s)
        print(f'  {e.key:34s} {shapes:44s} {e.count // a.steps:4d} calls {e.self_cpu_time_total / 1e3 / a.steps:8.2f} ms per step', file=sys.stderr)


if __name__ == '__main__':
    main()
