import * as tf from '@tensorflow/tfjs-core';
import { allReduceStats, collectiveWorld } from '../ops/collectives.js';
import { offTape } from '../ops/off-tape.js';
import { pwlu, pwluInfer, pwluWidenBounds, type PwluTensors } from '../ops/pwlu.js';
import type { ActivationEvent, ActivationTrainingHooks } from './hooks.js';
import { SpecLayer, type SpecLayerConfig } from './layer.js';
import type { ActivationSpec } from './spec.js';
import { pwluSpec, reluHeights } from './specs/pwlu.js';

/** Where a PWLU layer stands in the two-phase method (set by the trainer at every epoch start). */
export type PwluPhase = 'statistics' | 'learning';

/**
 * tf.moments over every rank's batch (mean, then the mean squared deviation, as tf.moments computes
 * them): each rank realigns to the bounds a single process over the global batch would have.
 */
function globalMoments(x: tf.Tensor, axes: number[]): { mean: tf.Tensor; variance: tf.Tensor } {
  const perInstance = tf.sum(x, axes);
  const [sum, count] = allReduceStats([perInstance, tf.scalar(x.size / Math.max(perInstance.size, 1))]);
  const mean = tf.div(sum!, count!);
  const [squares] = allReduceStats([tf.sum(tf.square(tf.sub(x, mean)), axes)]);
  return { mean, variance: tf.div(squares!, count!) };
}

/**
 * The two-phase method every PWLU variant trains with, through the trainer hooks: phase I freezes the unit (a ReLU)
 * and gathers running statistics of its input; phase II realigns the bounds once to mu -/+ alpha*sigma (resetting the
 * shape to ReLU on the new grid) and learns everything. The phase state (running statistics, step count, realigned
 * flag) lives in the spec's non-trainable weights, so checkpoints carry it. Variants implement the function itself.
 */
export abstract class TwoPhaseLayer extends SpecLayer<typeof pwluSpec.options> implements ActivationTrainingHooks {
  /** Current phase; 'learning' outside the trainer (e.g. `pwlu speed`, a loaded model). */
  phase: PwluPhase = 'learning';

  constructor(spec: ActivationSpec<string, typeof pwluSpec.options, unknown>, config: SpecLayerConfig) {
    super(spec, config);
  }

  /** Instances (1 layer-wise, C channel-wise): the length of every per-instance weight. */
  protected get instances(): number {
    return this.weight('bl').shape[0] as number;
  }

  /** The training function (differentiable in x and every parameter). */
  protected abstract train(x: tf.Tensor): tf.Tensor;
  /** The inference function (fused where the backend has it). */
  protected abstract infer(x: tf.Tensor): tf.Tensor;

  /** Sets the bounds and makes the function ReLU on that grid (KL = 0, KR = 1, heights = relu at the breakpoints). */
  protected resetShape(bl: number[], br: number[]): void {
    const p = this.instances;
    const n = this.options.n;
    const y = new Float32Array(p * (n + 1));
    for (let q = 0; q < p; q++) y.set(reluHeights(bl[q]!, br[q]!, n), q * (n + 1));
    tf.tidy(() => {
      this.weight('heights').write(tf.tensor2d(y, [p, n + 1]));
      this.weight('kl').write(tf.zeros([p]));
      this.weight('kr').write(tf.ones([p]));
      this.weight('bl').write(tf.tensor1d(bl));
      this.weight('br').write(tf.tensor1d(br));
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (!kwargs.training) return this.infer(x);
    if (this.phase === 'statistics') this.updateStatistics(x);
    return this.train(x);
  }

  /** mu <- m*mu + (1-m)*mean(x) (over every rank's batch in a distributed run), sigma likewise with std(x), over the elements of each instance; the first step takes the batch values. */
  private updateStatistics(x: tf.Tensor): void {
    tf.tidy(() => {
      const axes = this.instances === 1 ? Array.from({ length: x.rank }, (_, i) => i) : Array.from({ length: x.rank - 1 }, (_, i) => i);
      const shape = [this.instances];
      // Off the tape: within the training step tfjs would keep the moments' full-size intermediates until backprop.
      const batch = offTape(x, (input) => {
        const { mean, variance } = collectiveWorld() ? globalMoments(input, axes) : tf.moments(input, axes);
        return tf.stack([tf.reshape(mean, shape), tf.reshape(tf.sqrt(variance), shape)]);
      });
      const [batchMean, batchStd] = tf.unstack(batch) as [tf.Tensor, tf.Tensor];
      const steps = this.weight('stat_steps').read();
      const m = tf.mul(tf.minimum(steps, 1), this.options.momentum); // 0 on the first step
      const blend = (run: tf.Tensor, batch: tf.Tensor) => tf.add(tf.mul(run, m), tf.mul(batch, tf.sub(1, m)));
      this.weight('running_mean').write(blend(this.weight('running_mean').read(), batchMean));
      this.weight('running_std').write(blend(this.weight('running_std').read(), batchStd));
      this.weight('stat_steps').write(tf.add(steps, 1));
    });
  }

  onEpochStart(epoch: number): ActivationEvent | null {
    const o = this.options;
    if (epoch < o.phase1_epochs) {
      this.phase = 'statistics';
      return null;
    }
    this.phase = 'learning';
    if (o.phase1_epochs === 0 || this.weight('realigned').read().dataSync()[0]! > 0) return null;
    // The phase boundary: realign once (the flag is checkpointed, so a resumed run does not redo it).
    const mu = Array.from(this.weight('running_mean').read().dataSync());
    const sigma = Array.from(this.weight('running_std').read().dataSync());
    const steps = this.weight('stat_steps').read().dataSync()[0]!;
    const event: ActivationEvent = {
      event: 'realign',
      layer: this.name,
      epoch,
      granularity: o.granularity,
      realigned: false,
      stat_steps: steps,
      mu: this.compact(mu),
      sigma: this.compact(sigma),
    };
    if (o.realign && steps > 0) {
      const bl: number[] = [];
      const br: number[] = [];
      for (let q = 0; q < this.instances; q++) {
        let lo = mu[q]! - o.alpha * sigma[q]!;
        let hi = mu[q]! + o.alpha * sigma[q]!;
        if (!(hi - lo >= o.min_width)) {
          lo = mu[q]! - o.min_width / 2;
          hi = mu[q]! + o.min_width / 2;
        }
        bl.push(Math.fround(lo));
        br.push(Math.fround(hi));
      }
      this.resetShape(bl, br);
      event.realigned = true;
    } else if (o.realign) {
      event.reason = 'no statistics gathered';
    } else {
      event.reason = `activation.${this.spec.name}.realign is false`;
    }
    event.bl = this.compact(Array.from(this.weight('bl').read().dataSync()));
    event.br = this.compact(Array.from(this.weight('br').read().dataSync()));
    tf.tidy(() => {
      this.weight('realigned').write(tf.ones([1]));
    });
    return event;
  }

  private compact(v: number[]): number | number[] {
    return this.instances === 1 ? v[0]! : v;
  }

  frozenVariables(): tf.Variable[] {
    if (this.phase !== 'statistics') return [];
    return this.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  afterStep(): void {
    if (this.phase !== 'learning') return;
    tf.tidy(() => {
      const [bl, br] = pwluWidenBounds(this.weight('bl').read(), this.weight('br').read(), this.options.min_width);
      this.weight('bl').write(bl);
      this.weight('br').write(br);
    });
  }

  override describe(): Record<string, unknown> | undefined {
    const d = super.describe();
    return d && { ...d, phase: this.phase };
  }
}

/**
 * Piecewise Linear Unit (Zhou et al., ICCV 2021): N uniform intervals on [BL, BR], learnable heights, outer slopes
 * and bounds (src/activations/specs/pwlu.ts), trained with the two-phase method through fused ops with hand-written
 * gradients (src/ops/pwlu.ts).
 */
export class PWLULayer extends TwoPhaseLayer {
  static className = pwluSpec.className;

  constructor(config: SpecLayerConfig = {}) {
    super(pwluSpec, config);
  }

  private params(): PwluTensors {
    return {
      y: this.weight('heights').read(),
      kl: this.weight('kl').read(),
      kr: this.weight('kr').read(),
      bl: this.weight('bl').read(),
      br: this.weight('br').read(),
    };
  }

  protected train(x: tf.Tensor): tf.Tensor {
    return pwlu(x, this.params());
  }

  protected infer(x: tf.Tensor): tf.Tensor {
    return pwluInfer(x, this.params());
  }
}
tf.serialization.registerClass(PWLULayer);
