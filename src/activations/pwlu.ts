import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ActivationEvent, ActivationTrainingHooks } from './hooks.js';
import { pwlu, pwluInfer, type PwluTensors } from '../ops/pwlu.js';
import { allReduceStats, collectiveWorld } from '../ops/collectives.js';
import type { ActivationEntry, ActivationLayer } from './types.js';
import { ACTIVATION_OPTIONS, type ActivationOptions } from './options.js';

/** Where a PWLU layer stands in the two-phase method (set by the trainer at every epoch start). */
export type PwluPhase = 'statistics' | 'learning';

interface PwluArgs {
  name?: string;
  /** Intervals N (even). */
  n?: number;
  granularity?: 'layer' | 'channel';
  /** Initial bounds [-initBound, initBound]. */
  initBound?: number;
  /** Momentum of the running mean/std (paper: 0.9). */
  momentum?: number;
  /** Realigned bounds: mu -/+ alpha * sigma. */
  alpha?: number;
  /** Phase I length T' in epochs; 0 = learn from the first step, never realign. */
  phase1Epochs?: number;
  /** Realign at the start of phase II (false: the no-realignment ablation). */
  realign?: boolean;
  /** Smallest allowed BR - BL. */
  minWidth?: number;
}

/**
 * Piecewise Linear Unit (Zhou et al., ICCV 2021): N uniform intervals on [BL, BR], learnable
 * heights Y_0..Y_N, outer slopes KL/KR and bounds, one instance per layer or per channel;
 * initialised to exactly ReLU. Runs the two-phase method through the trainer hooks: phase I
 * freezes it and gathers running statistics of its input; phase II realigns the bounds once to
 * mu -/+ alpha*sigma and learns everything. The phase state (running statistics, step count,
 * realigned flag) lives in non-trainable weights, so checkpoints carry it.
 */
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

export class PWLULayer extends tfl.layers.Layer implements ActivationLayer, ActivationTrainingHooks {
  static className = 'PwluPWLU';
  readonly isActivation = true;
  readonly n: number;
  readonly granularity: 'layer' | 'channel';
  readonly initBound: number;
  readonly momentum: number;
  readonly alpha: number;
  readonly phase1Epochs: number;
  readonly realignEnabled: boolean;
  readonly minWidth: number;
  /** Current phase; 'learning' outside the trainer (e.g. `pwlu speed`, a loaded model). */
  phase: PwluPhase = 'learning';
  private instances = 0;
  private yW!: tfl.LayerVariable;
  private klW!: tfl.LayerVariable;
  private krW!: tfl.LayerVariable;
  private blW!: tfl.LayerVariable;
  private brW!: tfl.LayerVariable;
  private meanW!: tfl.LayerVariable;
  private stdW!: tfl.LayerVariable;
  private stepsW!: tfl.LayerVariable;
  private realignedW!: tfl.LayerVariable;

  constructor(args: PwluArgs = {}) {
    super({ name: args.name });
    this.n = args.n ?? 16;
    if (!Number.isInteger(this.n) || this.n < 2 || this.n % 2 !== 0) throw new Error(`PWLU: n must be an even integer >= 2, got ${this.n}`);
    this.granularity = args.granularity ?? 'layer';
    this.initBound = args.initBound ?? 3;
    this.momentum = args.momentum ?? 0.9;
    this.alpha = args.alpha ?? 3;
    this.phase1Epochs = args.phase1Epochs ?? 0;
    this.realignEnabled = args.realign ?? true;
    this.minWidth = args.minWidth ?? 1e-3;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const c = shape[shape.length - 1];
    if (this.granularity === 'channel' && c == null) throw new Error(`${this.name}: channel-wise PWLU needs a known channel dimension`);
    const p = this.granularity === 'channel' ? (c as number) : 1;
    this.instances = p;
    const zeros = tfl.initializers.zeros();
    this.yW = this.addWeight('heights', [p, this.n + 1], 'float32', zeros);
    this.klW = this.addWeight('kl', [p], 'float32', zeros);
    this.krW = this.addWeight('kr', [p], 'float32', zeros);
    this.blW = this.addWeight('bl', [p], 'float32', zeros);
    this.brW = this.addWeight('br', [p], 'float32', zeros);
    this.meanW = this.addWeight('running_mean', [p], 'float32', zeros, undefined, false);
    this.stdW = this.addWeight('running_std', [p], 'float32', tfl.initializers.ones(), undefined, false);
    this.stepsW = this.addWeight('stat_steps', [1], 'float32', zeros, undefined, false);
    this.realignedW = this.addWeight('realigned', [1], 'float32', zeros, undefined, false);
    this.setShape(new Array<number>(p).fill(-this.initBound), new Array<number>(p).fill(this.initBound));
    this.built = true;
  }

  /** Sets the bounds and makes the function ReLU on that grid (KL = 0, KR = 1, Y_i = relu(B_i)). */
  private setShape(bl: number[], br: number[]): void {
    const p = this.instances;
    const n = this.n;
    const y = new Float32Array(p * (n + 1));
    for (let q = 0; q < p; q++) {
      const d = Math.fround(Math.fround(br[q]! - bl[q]!) / n);
      for (let i = 0; i <= n; i++) y[q * (n + 1) + i] = Math.max(0, Math.fround(bl[q]! + i * d));
    }
    tf.tidy(() => {
      this.yW.write(tf.tensor2d(y, [p, n + 1]));
      this.klW.write(tf.zeros([p]));
      this.krW.write(tf.ones([p]));
      this.blW.write(tf.tensor1d(bl));
      this.brW.write(tf.tensor1d(br));
    });
  }

  private params(): PwluTensors {
    return { y: this.yW.read(), kl: this.klW.read(), kr: this.krW.read(), bl: this.blW.read(), br: this.brW.read() };
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (!kwargs.training) return pwluInfer(x, this.params());
    if (this.phase === 'statistics') this.updateStatistics(x);
    return pwlu(x, this.params());
  }

  /** mu <- m*mu + (1-m)*mean(x) (over every rank's batch in a distributed run), sigma likewise with std(x), over the elements of each instance; the first step takes the batch values. */
  private updateStatistics(x: tf.Tensor): void {
    tf.tidy(() => {
      const axes = this.instances === 1 ? Array.from({ length: x.rank }, (_, i) => i) : Array.from({ length: x.rank - 1 }, (_, i) => i);
      const { mean, variance } = collectiveWorld() ? globalMoments(x, axes) : tf.moments(x, axes);
      const shape = [this.instances];
      const batchMean = tf.reshape(mean, shape);
      const batchStd = tf.reshape(tf.sqrt(variance), shape);
      const steps = this.stepsW.read();
      const m = tf.mul(tf.minimum(steps, 1), this.momentum); // 0 on the first step
      const blend = (run: tf.Tensor, batch: tf.Tensor) => tf.add(tf.mul(run, m), tf.mul(batch, tf.sub(1, m)));
      this.meanW.write(blend(this.meanW.read(), batchMean));
      this.stdW.write(blend(this.stdW.read(), batchStd));
      this.stepsW.write(tf.add(steps, 1));
    });
  }

  onEpochStart(epoch: number): ActivationEvent | null {
    if (epoch < this.phase1Epochs) {
      this.phase = 'statistics';
      return null;
    }
    this.phase = 'learning';
    if (this.phase1Epochs === 0 || this.realignedW.read().dataSync()[0]! > 0) return null;
    // The phase boundary: realign once (the flag is checkpointed, so a resumed run does not redo it).
    const mu = Array.from(this.meanW.read().dataSync());
    const sigma = Array.from(this.stdW.read().dataSync());
    const steps = this.stepsW.read().dataSync()[0]!;
    const event: ActivationEvent = { event: 'realign', layer: this.name, epoch, granularity: this.granularity, realigned: false, stat_steps: steps, mu: this.compact(mu), sigma: this.compact(sigma) };
    if (this.realignEnabled && steps > 0) {
      const bl: number[] = [];
      const br: number[] = [];
      for (let q = 0; q < this.instances; q++) {
        let lo = mu[q]! - this.alpha * sigma[q]!;
        let hi = mu[q]! + this.alpha * sigma[q]!;
        if (!(hi - lo >= this.minWidth)) {
          lo = mu[q]! - this.minWidth / 2;
          hi = mu[q]! + this.minWidth / 2;
        }
        bl.push(Math.fround(lo));
        br.push(Math.fround(hi));
      }
      this.setShape(bl, br);
      event.realigned = true;
    } else if (this.realignEnabled) {
      event.reason = 'no statistics gathered';
    } else {
      event.reason = 'activation.pwlu.realign is false';
    }
    event.bl = this.compact(Array.from(this.blW.read().dataSync()));
    event.br = this.compact(Array.from(this.brW.read().dataSync()));
    tf.tidy(() => {
      this.realignedW.write(tf.ones([1]));
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
    // Keep BR - BL >= minWidth (our choice: a guard the paper leaves implicit), widening about the midpoint.
    tf.tidy(() => {
      const bl = this.blW.read();
      const br = this.brW.read();
      const narrow = tf.less(tf.sub(br, bl), this.minWidth);
      const mid = tf.div(tf.add(bl, br), 2);
      this.blW.write(tf.where(narrow, tf.sub(mid, this.minWidth / 2), bl));
      this.brW.write(tf.where(narrow, tf.add(mid, this.minWidth / 2), br));
    });
  }

  describe(): Record<string, unknown> {
    const p = this.instances;
    const n = this.n;
    const y = this.yW.read().dataSync();
    const [kl, kr, bl, br, mu, sigma] = [this.klW, this.krW, this.blW, this.brW, this.meanW, this.stdW].map((w) => w.read().dataSync());
    const instances = [];
    for (let q = 0; q < p; q++) {
      const d = (br![q]! - bl![q]!) / n;
      instances.push({
        bl: bl![q],
        br: br![q],
        kl: kl![q],
        kr: kr![q],
        breakpoints: Array.from({ length: n + 1 }, (_, i) => bl![q]! + i * d),
        heights: Array.from(y.subarray(q * (n + 1), (q + 1) * (n + 1))),
        running_mean: mu![q],
        running_std: sigma![q],
      });
    }
    return {
      type: 'pwlu',
      n,
      granularity: this.granularity,
      phase: this.phase,
      stat_steps: this.stepsW.read().dataSync()[0],
      realigned: this.realignedW.read().dataSync()[0]! > 0,
      instances,
    };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      n: this.n,
      granularity: this.granularity,
      initBound: this.initBound,
      momentum: this.momentum,
      alpha: this.alpha,
      phase1Epochs: this.phase1Epochs,
      realign: this.realignEnabled,
      minWidth: this.minWidth,
    };
  }
}
tf.serialization.registerClass(PWLULayer);

export const pwluEntry: ActivationEntry<ActivationOptions<'pwlu'>> = {
  name: 'pwlu',
  description: 'PWLU: learnable piecewise linear unit, N intervals, layer- or channel-wise, two-phase training (options in activation.pwlu)',
  options: ACTIVATION_OPTIONS.pwlu,
  create: (o, site) =>
    new PWLULayer({
      name: site.name,
      n: o.n,
      granularity: o.granularity,
      initBound: o.init_bound,
      momentum: o.momentum,
      alpha: o.alpha,
      phase1Epochs: o.phase1_epochs,
      realign: o.realign,
      minWidth: o.min_width,
    }),
};
