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
 * trainer's own buildModel, paramGroups, Optimizer and makeTrainStep, with one seeded random batch of
 * `batch` RGB `size`x`size` images: what the speed, profiling and kernel-census scripts measure.
 */
export async function trainableModel(config, { size, batch, classes = 10, seed = 0 }) {
  const [{ ConfigSchema }, { Optimizer }, { buildModel, makeTrainStep, paramGroups }, { disposeModel, predict }, { Rng }] = await Promise.all(
    ['config/schema.js', 'train/optimizer.js', 'train/step.js', 'models/infer.js', 'util/rng.js'].map(importDist),
  );
  const parsed = ConfigSchema.parse(config);
  const shape = [size, size, 3];
  const model = buildModel(parsed, { height: size, width: size, channels: 3, numClasses: classes });
  const groups = paramGroups(model, parsed.train.no_decay);
  const optimizer = new Optimizer(parsed.train, groups);
  const trainStep = makeTrainStep(model, optimizer, groups.map((g) => g.variable), shape, parsed.train.label_smoothing);
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: batch * size * size * 3 }, () => rng.normal());
  const y = Int32Array.from({ length: batch }, () => rng.int(classes));
  const xt = tf.tensor4d(x, [batch, ...shape]);
  const yt = tf.tensor1d(y, 'int32');
  return {
    model,
    /** Trainable parameters. */
    params: groups.reduce((n, g) => n + g.variable.size, 0),
    xt,
    yt,
    /** One training step (forward, backward, update) at the config's lr; returns its loss. */
    step: () => trainStep(x, y, batch, parsed.train.lr).loss,
    /** The logits of the batch in inference mode, through the folded plan that eval and `pwlu speed` use. */
    logits: () => predict(model, xt),
    /** One inference pass of the batch, waited for (what inference throughput times). */
    infer: () => {
      const s = tf.tidy(() => tf.sum(predict(model, xt)));
      s.dataSync();
      s.dispose();
    },
    dispose: () => {
      tf.dispose([xt, yt]);
      optimizer.dispose();
      disposeModel(model);
    },
  };
}
