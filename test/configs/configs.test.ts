import { readdirSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { activationNames } from '../../src/activations/registry.js';
import { cellSets } from '../../src/bench/grid.js';
import { loadConfig } from '../../src/config/load.js';
import { registryChecks } from '../../src/train/registry-checks.js';

const ROOT = resolve(__dirname, '..', '..');
const CONFIGS = join(ROOT, 'configs');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : []));
}

const files = yamlFiles(CONFIGS);
const load = (file: string, sets: string[] = []) => loadConfig(file, sets, { extraChecks: registryChecks }).config;

describe('shipped configs', () => {
  it('are all found (quickstart, five ImageNet, four CIFAR, four Fashion-MNIST, three detection)', () => {
    const rel = files.map((f) => relative(CONFIGS, f)).sort();
    expect(rel).toEqual(
      [
        'cifar/cifar10-resnet20.yaml',
        'cifar/cifar10-resnet56.yaml',
        'cifar/cifar100-resnet20.yaml',
        'cifar/cifar100-resnet56.yaml',
        'coco/retinanet-r18.yaml',
        'coco/retinanet-r50.yaml',
        'fashion-mnist-detection/retinanet-r18.yaml',
        'fashion-mnist/fashion-mnist-resnet20.yaml',
        'fashion-mnist/first-result.yaml',
        'fashion-mnist/pwlu-ablation.yaml',
        'fashion-mnist/resnet20-5ep.yaml',
        'imagenet/efficientnet_b0.yaml',
        'imagenet/mobilenet_v2.yaml',
        'imagenet/mobilenet_v3_large.yaml',
        'imagenet/resnet18.yaml',
        'imagenet/resnet50.yaml',
        'quickstart.yaml',
      ].sort(),
    );
  });

  it.each(files.map((f) => [relative(CONFIGS, f), f]))('%s loads and passes the schema and registry checks, with every activation', (_name, file) => {
    const c = load(file);
    expect(loadConfig(file, [], { extraChecks: registryChecks }).warnings, 'written in the current layout').toEqual([]);
    // A bench may swap in any registered activation: each must give a valid config too.
    for (const act of activationNames()) expect(() => load(file, cellSets({ name: 'x', arch: c.model.arch, activation: act, seed: c.seed }))).not.toThrow();
  });

  it("ImageNet configs: the paper's architectures at 224x224 from an image folder, PWLU N = 16, T' = 5, alpha = 3", () => {
    for (const file of files.filter((f) => f.includes(`${join('configs', 'imagenet')}`))) {
      const c = load(file);
      expect(c.model.arch).toBe(basename(file, '.yaml'));
      expect(c.data.name).toBe('imagefolder');
      expect(c.data.image_size).toBe(224);
      expect(c.activation.name).toBe('pwlu');
      expect(c.activation.pwlu).toMatchObject({ n: 16, phase1_epochs: 5, alpha: 3, granularity: 'layer' });
      expect(c.train.label_smoothing).toBe(0.1);
    }
  });

  it('CIFAR configs: ResNet-20/56 on CIFAR-10/100 with the He et al. step schedule', () => {
    for (const file of files.filter((f) => f.includes(`${join('configs', 'cifar')}`))) {
      const c = load(file);
      const [dataset, arch] = basename(file, '.yaml').split('-');
      expect(c.data.name).toBe(dataset);
      expect(c.model.arch).toBe(arch);
      expect(c.train.schedule).toMatchObject({ name: 'step', milestones: [82, 123] });
      expect(c.train.epochs).toBe(164);
      expect(c.data.augment).toEqual({ crop_padding: 4, flip: true, scale: [0.08, 1], ratio: [3 / 4, 4 / 3], crop_pct: 0.875 });
    }
  });
});
