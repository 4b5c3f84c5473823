/** What the speed engine times: a model with one fixed random batch, as src/bench/speed.ts and speed-detection.ts build it. */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Optimizer } from '../train/optimizer.js';
import type { GradientReducer, StepResult } from '../train/step.js';

/** The input of a benchmark model: NHWC images of side `size`, `batch` of them, `classes` labels. */
export interface BenchInput {
  size: number;
  channels: number;
  batch: number;
  classes: number;
  /** Seed of the random batch (default 0). */
  seed?: number;
  /** classification (default), or detection: a RetinaNet over `arch` as the backbone, `classes` logits per anchor, random boxes per image. */
  task?: 'classification' | 'detection';
}

/** A model ready to time: one training step or one inference pass on its fixed random batch. */
export interface BenchModel {
  model: tfl.LayersModel;
  optimizer: Optimizer;
  /** Trainable parameters. */
  params: number;
  /** The batch as flat NHWC floats and int labels (what the training step takes). */
  x: Float32Array;
  y: Int32Array;
  /** One training step (forward, backward, update) at learning rate `lr`. */
  step: (lr: number) => StepResult;
  /** The batch as a tensor, made on first use (so a training-step memory figure does not count it); the model owns it. */
  input(): tf.Tensor4D;
  /** The logits of the batch in inference mode, through the folded plan that eval uses. */
  logits(): tf.Tensor;
  /** One inference pass of the batch, waited for (what inference throughput times). */
  infer: () => void;
  dispose(): void;
}

/** How benchModel wires the step: a gradient reducer (data-parallel), and a hook run on the built model before the step is made. */
export interface BenchModelOptions {
  reduce?: GradientReducer;
  /** E.g. a data-parallel run broadcasting rank 0's initial weights. */
  prepare?: (model: tfl.LayersModel) => void;
}
