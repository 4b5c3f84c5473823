import * as tf from '@tensorflow/tfjs-core';
import type { TrainConfig } from '../config/schema.js';
import { SGD_MOMENTUM_KERNEL } from '../ops/kernel-names.js';
import { hasNativeKernel } from '../ops/native-kernel.js';
import { sgdMomentumFused, type SgdSlot } from '../ops/sgd-momentum.js';

/** A trainable variable with its optimisation settings. */
export interface ParamGroupEntry {
  variable: tf.Variable;
  /** Name used in checkpoints (stable across processes). */
  name: string;
  decay: boolean;
}

/** Optimizer state as named tensors, for checkpoints. */
export type OptimizerState = { name: string; tensor: tf.Tensor }[];

/**
 * SGD (momentum, Nesterov; PyTorch's update rule) and Adam, with coupled L2 weight decay that
 * skips the no-decay group. Written here rather than using tf.train so the state is explicit,
 * checkpointable and the lr can change every step.
 */
export class Optimizer {
  private readonly slots = new Map<string, tf.Variable[]>();
  private step = 0;

  constructor(
    private readonly cfg: Pick<TrainConfig, 'optimizer' | 'weight_decay'>,
    private readonly params: ParamGroupEntry[],
  ) {}

  /** Applies one update with learning rate `lr`; grads are keyed by variable name (tf.variableGrads). */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    this.step++;
    const o = this.cfg.optimizer;
    const wd = this.cfg.weight_decay;
    tf.tidy(() => {
      if (o.name === 'sgd' && o.momentum > 0 && hasNativeKernel(SGD_MOMENTUM_KERNEL)) {
        this.sgdFused(grads, lr, o.momentum, o.nesterov);
        return;
      }
      for (const p of this.params) {
        const g0 = grads[p.variable.name];
        if (!g0) continue;
        const w = p.variable;
        const g = p.decay && wd > 0 ? tf.add(g0, tf.mul(w, wd)) : g0;
        if (o.name === 'sgd') {
          if (o.momentum === 0) {
            w.assign(tf.sub(w, tf.mul(g, lr)));
            continue;
          }
          const {
            vars: [buf],
            fresh,
          } = this.slotsFor(p, 1);
          // PyTorch: buf = m*buf + g (buf = g on its first step); update = nesterov ? g + m*buf : buf.
          const nb = fresh ? g : tf.add(tf.mul(buf, o.momentum), g);
          buf.assign(nb);
          const upd = o.nesterov ? tf.add(g, tf.mul(nb, o.momentum)) : nb;
          w.assign(tf.sub(w, tf.mul(upd, lr)));
        } else {
          const {
            vars: [m, v],
          } = this.slotsFor(p, 2);
          const nm = tf.add(tf.mul(m, o.beta1), tf.mul(g, 1 - o.beta1));
          const nv = tf.add(tf.mul(v, o.beta2), tf.mul(tf.square(g), 1 - o.beta2));
          m.assign(nm);
          v.assign(nv);
          const bc1 = 1 - o.beta1 ** this.step;
          const bc2 = 1 - o.beta2 ** this.step;
          const denom = tf.add(tf.sqrt(tf.div(nv, bc2)), o.eps);
          w.assign(tf.sub(w, tf.mul(tf.div(nm, denom), lr / bc1)));
        }
      }
    });
  }

  /** The same SGD update as apply's loop, as one kernel over all parameters (buffers start at zero, so buf' = g first). */
  private sgdFused(grads: Record<string, tf.Tensor>, lr: number, momentum: number, nesterov: boolean): void {
    const wd = this.cfg.weight_decay;
    const vars: [tf.Variable, tf.Variable][] = [];
    const slots: SgdSlot[] = [];
    for (const p of this.params) {
      const g = grads[p.variable.name];
      if (!g) continue;
      const [buf] = this.slotsFor(p, 1).vars;
      vars.push([p.variable, buf!]);
      slots.push({ w: p.variable, g, buf: buf!, weightDecay: p.decay ? wd : 0 });
    }
    sgdMomentumFused(slots, lr, momentum, nesterov).forEach(([w, b], i) => {
      vars[i]![0].assign(w);
      vars[i]![1].assign(b);
    });
  }

  private slotsFor(p: ParamGroupEntry, count: number): { vars: tf.Variable[]; fresh: boolean } {
    const s = this.slots.get(p.name);
    if (s) return { vars: s, fresh: false };
    const vars = Array.from({ length: count }, () => tf.variable(tf.zerosLike(p.variable), false));
    this.slots.set(p.name, vars);
    return { vars, fresh: true };
  }

  /** Slot tensors and the step counter, for checkpoints. */
  getState(): { step: number; slots: OptimizerState } {
    const slots: OptimizerState = [];
    for (const [name, vars] of this.slots) vars.forEach((v, i) => slots.push({ name: `${name}#${i}`, tensor: v }));
    return { step: this.step, slots };
  }

  /** Restores what getState returned (tensors are copied). */
  setState(step: number, slots: { name: string; values: Float32Array; shape: number[] }[]): void {
    this.dispose();
    this.step = step;
    const byParam = new Map<string, tf.Variable[]>();
    for (const s of slots) {
      const hash = s.name.lastIndexOf('#');
      const pname = s.name.slice(0, hash);
      const idx = Number(s.name.slice(hash + 1));
      const arr = byParam.get(pname) ?? [];
      arr[idx] = tf.variable(tf.tensor(s.values, s.shape), false);
      byParam.set(pname, arr);
    }
    for (const [k, v] of byParam) this.slots.set(k, v);
  }

  dispose(): void {
    for (const vars of this.slots.values()) vars.forEach((v) => v.dispose());
    this.slots.clear();
  }
}
