#!/usr/bin/env python3
"""oneDNN's 1x1 convolutions on this machine's PyTorch (the evidence behind native/src/ops_nn.cc's g_route_1x1).

  survey  runs every distinct convolution of torchvision's resnet18, resnet50, mobilenet_v2, mobilenet_v3_large and
          efficientnet_b0 at 224 px, batch 16 (forward, input and weight gradients, channels-last), each op in order in
          a child process, restarting after a crash, and prints the ops that crashed (glibc's malloc checks on, so a
          corrupted heap aborts)
  cost    times direct 1x1 convolutions against pwlu's routed form (subsample, one-pixel-padded stride-1 convolution,
          crop), forward and both gradients, on ResNet shapes that do not crash; medians of 7 alternating repeats

Run it with the Python of the stack in question, e.g. inside a Debian root:
  scripts/compat/debian-root.sh trixie --extra "python3-torch python3-torchvision" --reuse -- python3 scripts/compat/onednn-1x1.py survey
"""
import glob, json, os, statistics, subprocess, sys, time
import torch

torch.set_num_threads(2)
CL = torch.channels_last


def convs():
    import torchvision
    seen = []
    for arch in ['resnet18', 'resnet50', 'mobilenet_v2', 'mobilenet_v3_large', 'efficientnet_b0']:
        m = getattr(torchvision.models, arch)()
        def hook(mod, inp, out):
            k = [list(inp[0].shape), mod.out_channels, list(mod.kernel_size), list(mod.stride), list(mod.padding), mod.groups]
            if k not in seen:
                seen.append(k)
        for mod in m.modules():
            if isinstance(mod, torch.nn.Conv2d):
                mod.register_forward_hook(hook)
        with torch.no_grad():
            m(torch.randn(1, 3, 224, 224))
    return [[[16] + s[1:], co, k, st, p, g] for s, co, k, st, p, g in seen]


def run_from(cases, start):
    for i, (shape, co, k, s, p, g) in enumerate(cases[start:], start):
        x = torch.randn(shape).to(memory_format=CL)
        w = torch.randn(co, shape[1] // g, *k).to(memory_format=CL)
        for op in ['fwd', 'din', 'dw']:
            print(i, op, flush=True)
            y = torch.convolution(x, w, None, s, p, [1, 1], False, [0, 0], g)
            if op != 'fwd':
                torch.ops.aten.convolution_backward(torch.randn_like(y), x, w, None, s, p, [1, 1], False, [0, 0], g, [op == 'din', op == 'dw', False])
    print('done', flush=True)


def survey():
    cases = convs()
    env = dict(os.environ)
    debug = glob.glob('/lib/*-linux-gnu/libc_malloc_debug.so.0') + glob.glob('/usr/lib/*-linux-gnu/libc_malloc_debug.so.0')
    if debug:
        env.update(LD_PRELOAD=debug[0], GLIBC_TUNABLES='glibc.malloc.check=3')
    start, crashed = 0, []
    while True:
        r = subprocess.run([sys.executable, __file__, 'child', json.dumps(cases), str(start)], env=env, capture_output=True, text=True, timeout=1800)
        last = r.stdout.strip().split('\n')[-1]
        if last == 'done':
            break
        i, op = last.split()
        crashed.append((op, cases[int(i)], r.returncode))
        start = int(i) + 1
    print(f'torch {torch.__version__}: {len(cases)} distinct convolutions x 3 ops, {len(crashed)} crashed')
    for op, c, rc in crashed:
        print(f'  {op} input {c[0]} -> {c[1]} channels, kernel {c[2]}, stride {c[3]}, groups {c[5]} (exit {rc})')


def cost():
    def step(x, w, s, routed):
        if routed:
            x = x[:, :, ::s, ::s].contiguous(memory_format=CL)
            s, p = 1, 1
        else:
            p = 0
        y = torch.convolution(x, w, None, [s, s], [p, p], [1, 1], False, [0, 0], 1)
        return torch.ops.aten.convolution_backward(torch.randn_like(y), x, w, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, [True, True, False])
    tot = {False: 0.0, True: 0.0}
    for n, ci, h, co, s in [(16, 64, 56, 256, 1), (16, 256, 56, 64, 1), (16, 256, 56, 512, 2), (16, 128, 28, 512, 1),
                            (16, 512, 28, 128, 1), (16, 64, 56, 128, 2), (16, 128, 28, 256, 2), (64, 16, 32, 32, 2)]:
        x = torch.randn(n, ci, h, h).to(memory_format=CL)
        w = torch.randn(co, ci, 1, 1).to(memory_format=CL)
        t = {False: [], True: []}
        for _ in range(7):
            for routed in (False, True):
                a = time.perf_counter()
                step(x, w, s, routed)
                t[routed].append(time.perf_counter() - a)
        d, q = statistics.median(t[False][1:]) * 1e3, statistics.median(t[True][1:]) * 1e3
        tot[False] += d
        tot[True] += q
        print(f'input {[n, ci, h, h]} -> {co}, stride {s}: direct {d:.1f} ms, routed {q:.1f} ms, {q / d:.2f}x', flush=True)
    print(f'torch {torch.__version__}, all shapes: direct {tot[False]:.0f} ms, routed {tot[True]:.0f} ms, {tot[True] / tot[False]:.2f}x')


if __name__ == '__main__':
    mode = sys.argv[1] if len(sys.argv) > 1 else ''
    if mode == 'child':
        run_from(json.loads(sys.argv[2]), int(sys.argv[3]))
    elif mode in ('survey', 'cost'):
        survey() if mode == 'survey' else cost()
    else:
        sys.exit(__doc__)
