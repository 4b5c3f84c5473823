/** The learning-rate schedule as a pure function of progress: warm-up in epochs or in steps, then step or cosine decay. */
import { describe, expect, it } from 'vitest';
import { TrainSchema } from '../../src/config/schema.js';
import { learningRate } from '../../src/train/schedule.js';

const cfg = (train: Record<string, unknown>) => TrainSchema.parse(train);

describe('learningRate', () => {
  it('warms up linearly over warmup_steps steps, whatever the epoch length (detection recipes)', () => {
    const c = cfg({ lr: 0.01, epochs: 12, schedule: { name: 'step', milestones: [8, 11], warmup_steps: 500, warmup_factor: 0.001 } });
    // 1,000 steps an epoch: step 0 is 0.001 x lr, step 250 halfway, step 500 the full lr.
    expect(learningRate(c, 0, 1000)).toBeCloseTo(0.01 * 0.001, 12);
    expect(learningRate(c, 250 / 1000, 1000)).toBeCloseTo(0.01 * (0.001 + 0.999 * 0.5), 12);
    expect(learningRate(c, 500 / 1000, 1000)).toBeCloseTo(0.01, 12);
    // 100 steps an epoch: the same 500 steps are 5 epochs.
    expect(learningRate(c, 2.5, 100)).toBeCloseTo(0.01 * (0.001 + 0.999 * 0.5), 12);
    // Then the steps: x0.1 at epoch 8, x0.01 at 11.
    expect(learningRate(c, 8, 1000)).toBeCloseTo(0.001, 12);
    expect(learningRate(c, 11.5, 1000)).toBeCloseTo(0.0001, 12);
  });

  it('warmup_steps null keeps warmup_epochs, and cosine starts its decay where the warm-up ends', () => {
    const c = cfg({ lr: 0.1, epochs: 10, schedule: { name: 'cosine', warmup_epochs: 2, warmup_factor: 0.1 } });
    expect(learningRate(c, 1, 50)).toBeCloseTo(0.1 * (0.1 + 0.9 * 0.5), 12);
    expect(learningRate(c, 2, 50)).toBeCloseTo(0.1, 12);
    expect(learningRate(c, 6, 50)).toBeCloseTo(0.05, 12); // halfway through the 8 cosine epochs
    const s = cfg({ lr: 0.1, epochs: 10, schedule: { name: 'cosine', warmup_steps: 100, warmup_factor: 0.1 } });
    // 100 steps of 50 per epoch = 2 epochs: the same curve.
    expect(learningRate(s, 6, 50)).toBeCloseTo(0.05, 12);
  });
});
