import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { modelsCommand } from '../../src/cli/models.js';
import { describeModels, type ModelRow } from '../../src/models/describe.js';
import { modelNames } from '../../src/models/registry.js';
import { UserError } from '../../src/util/errors.js';

describe('pwlu models', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('prints every architecture with params, sites and MACs as JSON', async () => {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out += String(s);
      return true;
    });
    await modelsCommand({ json: true, size: 32, classes: 10, activation: 'swish', sites: 'default' });
    const rows = JSON.parse(out) as ModelRow[];
    expect(rows.map((r) => r.name)).toEqual(modelNames());
    const by = new Map(rows.map((r) => [r.name, r]));
    // The usual CIFAR ResNet-18 (small stem): 11,173,962 params, 0.56 GMACs.
    expect(by.get('resnet18')).toMatchObject({ params: 11_173_962, sites: 17, stem: 'small' });
    expect(Math.round((by.get('resnet18')?.macs ?? 0) / 1e6)).toBe(555);
    expect(by.get('resnet20')).toMatchObject({ params: 272_474, sites: 19 });
    expect(by.get('mobilenet_v3_large')).toMatchObject({ sites: 21, allSites: 40 });
  });

  it('prints a table, and names the choices for an unknown activation', async () => {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out += String(s);
      return true;
    });
    await modelsCommand({ json: false, size: 28, classes: 10, activation: 'reference', width: 0.25, channels: 1 });
    expect(out).toMatch(/^arch\s+family\s+params/m);
    expect(out).toMatch(/^efficientnet_b0\s+efficientnet\s/m);
    expect(() => describeModels({ size: 32, classes: 10, activation: 'nope' })).toThrow(UserError);
  });
});
