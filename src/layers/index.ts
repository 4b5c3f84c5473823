/**
 * `pwlu/layers`: importing it registers the layer classes a tfjs export of a pwlu model names (`pwlu export --format
 * tfjs`), for `tf.loadLayersModel` in a browser or any tfjs program (the classes: ./classes.ts), and the fused
 * kernels of the learned activations for tfjs's `webgl` backend (./webgl/).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LAYER_CLASSES } from './classes.js';
import { registerWebglKernels } from './webgl/index.js';

export { LAYER_CLASSES } from './classes.js';

for (const c of LAYER_CLASSES) tf.serialization.registerClass(c);
registerWebglKernels();
