// Micro CNNs built from tfjs-core ops, shared by the torch backend scripts (kernel census, speed).
// They exercise what pwlu's training loop uses: conv / depthwise conv, the fused batch-norm
// kernels (PwluBatchNormTrain / PwluBatchNormGrad, composite fallback elsewhere), ReLU / ReLU6 /
// sigmoid / swish / hard-swish, SE blocks, pooling, dense, softmax cross-entropy with label
// smoothing, top-k accuracy and the tfjs optimizers.
import * as tf from '@tensorflow/tfjs-core';

const BN_TRAIN = 'PwluBatchNormTrain';
const BN_GRAD = 'PwluBatchNormGrad';

function native(name) {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Training-mode BN over all axes but the last, same contract as src/ops/batch-norm.ts. */
export function bnTrain(x, scale, offset, eps, onStats) {
  let stats = [];
  const f = tf.customGrad((xs, s, o, save) => {
    let y, mean, invstd;
    if (native(BN_TRAIN)) {
      [y, mean, invstd] = tf.engine().runKernel(BN_TRAIN, { x: xs, scale: s, offset: o }, { epsilon: eps });
    } else {
      [y, mean, invstd] = tf.tidy(() => {
        const axes = [...Array(xs.rank - 1).keys()];
        const m = tf.moments(xs, axes);
        const inv = tf.rsqrt(tf.add(m.variance, eps));
        return [tf.add(tf.mul(tf.sub(xs, m.mean), tf.mul(inv, s)), o), m.mean, inv];
      });
    }
    save([xs, s, mean, invstd]);
    stats = [tf.keep(mean), tf.keep(invstd)];
    return {
      value: y,
      gradFunc: (dy, saved) => {
        const [sx, ss, sm, si] = saved;
        if (native(BN_GRAD)) {
          return tf.engine().runKernel(BN_GRAD, { dy, x: sx, scale: ss, mean: sm, invstd: si }, { epsilon: eps });
        }
        return tf.tidy(() => {
          const axes = [...Array(sx.rank - 1).keys()];
          const count = sx.size / sx.shape[sx.rank - 1];
          const xhat = tf.mul(tf.sub(sx, sm), si);
          const doffset = tf.sum(dy, axes);
          const dscale = tf.sum(tf.mul(dy, xhat), axes);
          const k = tf.div(tf.mul(ss, si), count);
          const inner = tf.sub(tf.sub(tf.mul(dy, count), doffset), tf.mul(xhat, dscale));
          return [tf.mul(inner, k), dscale, doffset];
        });
      },
    };
  });
  const y = f(x, scale, offset);
  const [mean, invstd] = stats;
  if (onStats) tf.tidy(() => onStats(mean, tf.sub(tf.reciprocal(tf.square(invstd)), eps)));
  mean.dispose();
  invstd.dispose();
  return y;
}

/** Small deterministic PRNG so both backends see the same weights. */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(shape, rand, scale = 1) {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-9);
    v[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand()) * scale;
  }
  return v;
}

class Params {
  constructor(seed) {
    this.rand = rng(seed);
    this.vars = [];
    this.state = [];
  }
  conv(kh, kw, ci, co, name) {
    const std = Math.sqrt(2 / (kh * kw * ci));
    const v = tf.variable(tf.tensor(randn([kh, kw, ci, co], this.rand, std), [kh, kw, ci, co]), true, name);
    this.vars.push(v);
    return v;
  }
  dwconv(k, c, name) {
    const std = Math.sqrt(2 / (k * k));
    const v = tf.variable(tf.tensor(randn([k, k, c, 1], this.rand, std), [k, k, c, 1]), true, name);
    this.vars.push(v);
    return v;
  }
  dense(ci, co, name) {
    const w = tf.variable(tf.tensor(randn([ci, co], this.rand, Math.sqrt(1 / ci)), [ci, co]), true, `${name}/w`);
    const b = tf.variable(tf.zeros([co]), true, `${name}/b`);
    this.vars.push(w, b);
    return { w, b };
  }
  bn(c, name) {
    const gamma = tf.variable(tf.ones([c]), true, `${name}/gamma`);
    const beta = tf.variable(tf.zeros([c]), true, `${name}/beta`);
    const mean = tf.variable(tf.zeros([c]), false, `${name}/mean`);
    const variance = tf.variable(tf.ones([c]), false, `${name}/var`);
    this.vars.push(gamma, beta);
    this.state.push(mean, variance);
    return { gamma, beta, mean, variance };
  }
}

const MOMENTUM = 0.1;
const EPS = 1e-5;

/** BN layer: batch statistics + EMA of the running ones while training, running ones in eval. */
function bn(p, x, training) {
  if (training) {
    return bnTrain(x, p.gamma, p.beta, EPS, (mean, variance) => {
      p.mean.assign(tf.add(tf.mul(p.mean, 1 - MOMENTUM), tf.mul(mean, MOMENTUM)));
      p.variance.assign(tf.add(tf.mul(p.variance, 1 - MOMENTUM), tf.mul(variance, MOMENTUM)));
    });
  }
  return tf.tidy(() => {
    const k = tf.mul(tf.rsqrt(tf.add(p.variance, EPS)), p.gamma);
    return tf.add(tf.mul(x, k), tf.sub(p.beta, tf.mul(p.mean, k)));
  });
}

/**
 * CIFAR ResNet (He et al. 2016) with 1x1 conv + BN projection shortcuts. `blocks` per stage:
 * 3 gives ResNet-20. `widths` default 16/32/64.
 */
export function makeResNet({ blocks = 3, widths = [16, 32, 64], inChannels = 3, classes = 10, seed = 1, useBatchNormKernel = false, torchPads = false } = {}) {
  // torchPads: 3x3 convs pad 1 on every side (PyTorch's padding=1) instead of tfjs 'same' (which pads
  // bottom/right only for stride 2 on even sizes).
  const p3 = torchPads ? [[0, 0], [1, 1], [1, 1], [0, 0]] : 'same';
  const P = new Params(seed);
  const stem = { w: P.conv(3, 3, inChannels, widths[0], 'stem'), bn: P.bn(widths[0], 'stem/bn') };
  const layers = [];
  let cin = widths[0];
  widths.forEach((cout, s) => {
    for (let i = 0; i < blocks; i++) {
      const stride = i === 0 && s > 0 ? 2 : 1;
      const name = `s${s}b${i}`;
      const blk = {
        stride,
        c1: P.conv(3, 3, cin, cout, `${name}/c1`),
        b1: P.bn(cout, `${name}/b1`),
        c2: P.conv(3, 3, cout, cout, `${name}/c2`),
        b2: P.bn(cout, `${name}/b2`),
      };
      if (stride !== 1 || cin !== cout) {
        blk.sc = P.conv(1, 1, cin, cout, `${name}/sc`);
        blk.sb = P.bn(cout, `${name}/sb`);
      }
      layers.push(blk);
      cin = cout;
    }
  });
  const fc = P.dense(cin, classes, 'fc');
  // useBatchNormKernel: inference through tf.batchNorm (FusedBatchNorm kernel) instead of mul/add.
  const bnEval = (p, x) => tf.batchNorm(x, p.mean, p.variance, p.beta, p.gamma, EPS);
  const B = (p, x, training) => (training || !useBatchNormKernel ? bn(p, x, training) : bnEval(p, x));
  function forward(x, training) {
    let h = tf.relu(B(stem.bn, tf.conv2d(x, stem.w, 1, p3), training));
    for (const b of layers) {
      let o = tf.relu(B(b.b1, tf.conv2d(h, b.c1, b.stride, p3), training));
      o = B(b.b2, tf.conv2d(o, b.c2, 1, p3), training);
      const sc = b.sc ? B(b.sb, tf.conv2d(h, b.sc, b.stride, 'valid'), training) : h;
      h = tf.relu(tf.add(o, sc));
    }
    const pooled = tf.mean(h, [1, 2]);
    return tf.add(tf.matMul(pooled, fc.w), fc.b);
  }
  return { forward, vars: P.vars, state: P.state };
}

function hardSwish(x) {
  return tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6));
}
function swish(x) {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * MobileNet-V2/V3 and EfficientNet-flavoured micro net: strided stem, inverted residual with
 * depthwise conv, ReLU6 / hard-swish / swish, squeeze-excitation, max and average pooling,
 * explicit zero padding, dropout, dense head.
 */
export function makeMobileNet({ inChannels = 3, classes = 10, seed = 2, dropout = 0 } = {}) {
  const P = new Params(seed);
  const c0 = 8;
  const p = {
    stem: P.conv(3, 3, inChannels, c0, 'stem'),
    stemBn: P.bn(c0, 'stem/bn'),
    exp: P.conv(1, 1, c0, 16, 'exp'),
    expBn: P.bn(16, 'exp/bn'),
    dw: P.dwconv(3, 16, 'dw'),
    dwBn: P.bn(16, 'dw/bn'),
    se1: P.dense(16, 4, 'se1'),
    se2: P.dense(4, 16, 'se2'),
    proj: P.conv(1, 1, 16, c0, 'proj'),
    projBn: P.bn(c0, 'proj/bn'),
    dw2: P.dwconv(5, c0, 'dw2'),
    dw2Bn: P.bn(c0, 'dw2/bn'),
    head: P.conv(1, 1, c0, 24, 'head'),
    headBn: P.bn(24, 'head/bn'),
    fc: P.dense(24, classes, 'fc'),
  };
  function forward(x, training) {
    let h = tf.relu6(bn(p.stemBn, tf.conv2d(x, p.stem, 2, 'same'), training));
    // inverted residual: expand (1x1) → depthwise 3x3 → SE → project (1x1) + residual
    let e = hardSwish(bn(p.expBn, tf.conv2d(h, p.exp, 1, 'valid'), training));
    e = swish(bn(p.dwBn, tf.depthwiseConv2d(e, p.dw, 1, 'same'), training));
    const s = tf.mean(e, [1, 2]);
    const z = tf.relu(tf.add(tf.matMul(s, p.se1.w), p.se1.b));
    const g = tf.sigmoid(tf.add(tf.matMul(z, p.se2.w), p.se2.b));
    e = tf.mul(e, tf.reshape(g, [g.shape[0], 1, 1, g.shape[1]]));
    h = tf.add(h, bn(p.projBn, tf.conv2d(e, p.proj, 1, 'valid'), training));
    // explicit zero padding + strided depthwise 5x5 (EfficientNet-style), dilated variant
    h = tf.pad(h, [[0, 0], [1, 2], [1, 2], [0, 0]]);
    h = tf.relu(bn(p.dw2Bn, tf.depthwiseConv2d(h, p.dw2, 2, 'valid'), training));
    h = tf.maxPool(h, 3, 1, 'same');
    h = tf.avgPool(h, 2, 1, 'valid');
    h = swish(bn(p.headBn, tf.conv2d(h, p.head, 1, 'same'), training));
    let f = tf.mean(h, [1, 2]);
    if (training && dropout > 0) f = tf.dropout(f, dropout);
    return tf.add(tf.matMul(f, p.fc.w), p.fc.b);
  }
  return { forward, vars: P.vars, state: P.state };
}

/** Softmax cross-entropy with label smoothing, mean over the batch. */
export function loss(logits, labels, classes, smoothing = 0.1) {
  const oneHot = tf.oneHot(labels, classes);
  return tf.losses.softmaxCrossEntropy(oneHot, logits, undefined, smoothing, tf.Reduction.MEAN);
}

/** Top-1 and top-k correct counts, computed the way pwlu's eval does (tf.topk). */
export function topK(logits, labels, k = 5) {
  return tf.tidy(() => {
    const { indices } = tf.topk(logits, Math.min(k, logits.shape[1]));
    const hits = tf.equal(indices, tf.expandDims(labels, 1));
    const top1 = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32'));
    const topk = tf.sum(tf.cast(tf.any(hits, 1), 'int32'));
    return [top1.dataSync()[0], topk.dataSync()[0]];
  });
}

/** One training step through tf.variableGrads + optimizer.applyGradients; returns the loss. */
export function trainStep(model, optimizer, x, labels, classes, smoothing = 0.1) {
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => loss(model.forward(x, true), labels, classes, smoothing), model.vars);
    optimizer.applyGradients(grads);
    return value;
  });
}
