/** The config checks that need the registries: task and dataset agree, and a detector's backbone has C3-C5 features. */
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';
import { registryChecks } from '../../src/train/registry-checks.js';

const check = (c: Record<string, unknown>) => registryChecks(ConfigSchema.parse(c)).map((i) => `${i.path.join('.')}: ${i.message}`);

describe('registryChecks for detection', () => {
  it('accepts a detector on a backbone with features', () => {
    expect(check({ task: 'detection', model: { arch: 'resnet50' }, data: { name: 'coco' } })).toEqual([]);
  });

  it('names the detection datasets when task: detection reads a classification one', () => {
    expect(check({ task: 'detection', model: { arch: 'resnet18' }, data: { name: 'fashion-mnist' } })).toEqual([
      "data.name: task 'detection' reads a COCO-format dataset; choose one of: coco, fashion-mnist-detection",
    ]);
  });

  it('asks for task: detection when a classification run names a detection dataset', () => {
    expect(check({ data: { name: 'fashion-mnist-detection' } })).toEqual([
      "task: data.name 'fashion-mnist-detection' is a detection dataset: set task: detection",
    ]);
  });

  it('lists the backbones when the architecture has no C3-C5 features', () => {
    const [issue] = check({ task: 'detection', model: { arch: 'resnet20' }, data: { name: 'coco' } });
    expect(issue).toMatch(
      /^model\.arch: 'resnet20' has no detection backbone \(C3-C5 features\); choose one of: resnet18, resnet34, resnet50, mobilenet_v2, efficientnet_b0$/,
    );
  });
});
