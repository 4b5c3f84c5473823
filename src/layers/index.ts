/**
 * `pwlu/layers`: importing it registers the layer classes a tfjs export of a pwlu model names (`pwlu export --format
 * tfjs`), for `tf.loadLayersModel` in a browser or any tfjs program (the classes: ./classes.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LAYER_CLASSES } from './classes.js';

export { LAYER_CLASSES } from './classes.js';

for (const c of LAYER_CLASSES) tf.serialization.registerClass(c);
