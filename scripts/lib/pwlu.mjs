// pwlu's own code for the scripts: modules of the compiled project (dist/), and one of its registered models
// set up for training exactly as `pwlu train` and `pwlu speed` do, so that no script keeps a model zoo of its own.
import * as tf from '@tensorflow/tfjs-core';

/** Imports a module of dist/ (e.g. 'models/registry.js'); exits with a hint when the project is not built. */
export async function importDist(path) {
  const url = new URL(`../../dist/${path}`, import.meta.url);
  try {
    return await import(url.href);
  } catch (e) {
    process.stderr.write(`cannot load ${url.pathname} (run \`npm run build\` first): ${e.message}\n`);
    process.exit(1);
  }
}

/**
 * A registered architecture built from `config` (pwlu's config schema: model, activation, train, ...) by the
 * speed engine's own setup (dist/bench/speed.js benchModel: the trainer's buildModel, paramGroups, Optimizer and
 * makeTrainStep), with one seeded random batch of `batch` `size`x`size` images of `channels` channels (RGB by default): what `pwlu speed`, the
 * profiling and the kernel-census scripts measure.
 */
export async function trainableModel(config, { size, batch, channels = 3, classes = 10, seed = 0 }) {
  const [{ ConfigSchema }, { benchModel }] = await Promise.all(['config/schema.js', 'bench/speed.js'].map(importDist));
  const parsed = ConfigSchema.parse(config);
  const m = benchModel(parsed, { size, channels, batch, classes, seed });
  const xt = m.input();
  const yt = tf.tensor1d(m.y, 'int32');
  return {
    model: m.model,
    /** Trainable parameters. */
    params: m.params,
    xt,
    yt,
    /** One training step (forward, backward, update) at the config's lr; returns its loss. */
    step: () => m.step(parsed.train.lr).loss,
    /** The logits of the batch in inference mode, through the folded plan that eval and `pwlu speed` use. */
    logits: m.logits,
    /** One inference pass of the batch, waited for (what inference throughput times). */
    infer: m.infer,
    dispose: () => {
      yt.dispose();
      m.dispose();
    },
  };
}

/** The median of a list of timings: the one definition every pwlu timing reports (dist/util/median.js). */
export const { median } = await importDist('util/median.js');
