/**
 * Where each weight of pwlu's ImageNet architectures lives in a torchvision state dict: the key and how the tensor
 * is laid out there. One definition for model initialisation from torchvision weights (src/train/init.ts) and the
 * equivalence check with torchvision (scripts/check-torchvision.mjs).
 *
 * The mapping is by layer name, not by position: a detector's backbone has the classifier's layer names
 * (src/models/features.ts) and maps the same way, whatever layers the detector adds (`fpn.*`, `head.*` have no
 * counterpart). Which torchvision module a layer corresponds to depends only on the layer's name and, in the mobile
 * families, on which parts its block has (an expansion conv, a squeeze-excitation), read from the model's own layer
 * names.
 *
 * | pwlu layer | torchvision module |
 * |---|---|
 * | ResNet `stem.conv`, `stem.bn` | `conv1`, `bn1` |
 * | ResNet `layer{s}.{b}.conv{k}`, `.bn{k}` | the same |
 * | ResNet `layer{s}.{b}.downsample.conv`, `.bn` | `layer{s}.{b}.downsample.0`, `.1` |
 * | ResNet `fc` | `fc` |
 * | mobile stem / last conv `features.{i}.conv`, `.bn` | `features.{i}.0`, `.1` |
 * | mobile block `B.{part}.conv`, `.bn` (part: expand, dw, se, project in that order, absent parts skipped: index k) | `B.{seq}.{k}.0`, `.1` (seq: `conv` in MobileNet-V2, `block` in V3 and EfficientNet) |
 * | MobileNet-V2 `B.project.conv`, `.bn` | `B.conv.{k}`, `B.conv.{k+1}` (a bare Conv2d and BatchNorm2d) |
 * | SE `B.se.fc1`, `.fc2` | `B.block.{k}.fc1`, `.fc2` |
 * | `classifier.fc` | `classifier.1` (MobileNet-V2, EfficientNet), `classifier.3` (MobileNet-V3) |
 * | MobileNet-V3 `classifier.fc1` | `classifier.0` |
 *
 * Weights: Conv2D `kernel` is `weight` [O, I, kh, kw] (pwlu [kh, kw, I, O]), `bias` is `bias`; DepthwiseConv2D
 * `depthwise_kernel` is `weight` [C, 1, kh, kw] (pwlu [kh, kw, C, 1]); Dense `kernel` is `weight` [out, in] (pwlu
 * [in, out]); batch norm `gamma`, `beta`, `moving_mean`, `moving_variance` are `weight`, `bias`, `running_mean`,
 * `running_var`. torchvision's `num_batches_tracked` has no counterpart.
 */

/** The torchvision families pwlu's architectures reproduce. */
export type TorchvisionFamily = 'resnet' | 'mobilenet_v2' | 'mobilenet_v3' | 'efficientnet';

/** How a torchvision tensor is laid out relative to pwlu's weight: the permutation that turns one into the other. */
export type TorchLayout = 'conv' | 'depthwise' | 'linear' | 'same';

/** A pwlu weight's counterpart in a torchvision state dict. */
export interface TorchvisionSource {
  key: string;
  layout: TorchLayout;
}

/** Axis permutation from torchvision's layout to pwlu's (tfjs) layout. */
const PERMUTATION: Record<TorchLayout, number[] | null> = {
  conv: [2, 3, 1, 0],
  depthwise: [2, 3, 0, 1],
  linear: [1, 0],
  same: null,
};

/** pwlu weight name (the part after the layer's `/`) → torchvision field and layout, by the weight's rank where it matters. */
function field(weight: string, rank: number): { field: string; layout: TorchLayout } | null {
  switch (weight) {
    case 'kernel':
      return rank === 4 ? { field: 'weight', layout: 'conv' } : rank === 2 ? { field: 'weight', layout: 'linear' } : null;
    case 'depthwise_kernel':
      return rank === 4 ? { field: 'weight', layout: 'depthwise' } : null;
    case 'bias':
      return { field: 'bias', layout: 'same' };
    case 'gamma':
      return { field: 'weight', layout: 'same' };
    case 'beta':
      return { field: 'bias', layout: 'same' };
    case 'moving_mean':
      return { field: 'running_mean', layout: 'same' };
    case 'moving_variance':
      return { field: 'running_var', layout: 'same' };
    default:
      return null;
  }
}

/**
 * Which torchvision family a model's layers follow, from their names (a detector's backbone included), or null when
 * none: its weights cannot come from a torchvision state dict.
 */
export function torchvisionFamily(layerNames: Iterable<string>): TorchvisionFamily | null {
  const names = [...layerNames];
  const has = new Set(names);
  if (has.has('stem.conv') && has.has('layer1.0.conv1')) return 'resnet';
  if (names.some((n) => /^features\.\d+\.\d+\.dw\.conv$/.test(n))) return 'efficientnet';
  if (has.has('classifier.fc1') || names.some((n) => /^features\.\d+\.se\.fc1$/.test(n))) return 'mobilenet_v3';
  if (names.some((n) => /^features\.\d+\.dw\.conv$/.test(n))) return 'mobilenet_v2';
  return null;
}

/**
 * The torchvision module of a pwlu layer, or null when it has none. `hasPart` says whether the model has a layer in
 * that block part (`features.2.expand`: any `features.2.expand.*` layer).
 */
function moduleOf(family: TorchvisionFamily, layer: string, hasPart: (prefix: string) => boolean): string | null {
  if (family === 'resnet') {
    if (layer === 'stem.conv') return 'conv1';
    if (layer === 'stem.bn') return 'bn1';
    if (layer === 'fc' || /^layer\d+\.\d+\.(conv|bn)\d+$/.test(layer)) return layer;
    const ds = /^(layer\d+\.\d+)\.downsample\.(conv|bn)$/.exec(layer);
    return ds ? `${ds[1]}.downsample.${ds[2] === 'conv' ? 0 : 1}` : null;
  }
  if (layer === 'classifier.fc') return family === 'mobilenet_v3' ? 'classifier.3' : 'classifier.1';
  if (layer === 'classifier.fc1') return family === 'mobilenet_v3' ? 'classifier.0' : null;
  const plain = /^(features\.\d+)\.(conv|bn)$/.exec(layer);
  if (plain) return `${plain[1]}.${plain[2] === 'conv' ? 0 : 1}`;
  const m = /^(features\.\d+(?:\.\d+)?)\.(expand|dw|se|project)\.(conv|bn|fc1|fc2)$/.exec(layer);
  if (!m) return null;
  const block = m[1] as string;
  const part = m[2] as string;
  const piece = m[3] as string;
  const parts = [hasPart(`${block}.expand`) ? 'expand' : null, 'dw', hasPart(`${block}.se`) ? 'se' : null, 'project'].filter((p) => p !== null);
  const k = parts.indexOf(part);
  if (k < 0) return null;
  if (part === 'se') return piece === 'fc1' || piece === 'fc2' ? `${block}.block.${k}.${piece}` : null;
  if (piece !== 'conv' && piece !== 'bn') return null;
  if (family === 'mobilenet_v2') {
    if (part === 'project') return `${block}.conv.${piece === 'conv' ? k : k + 1}`;
    return `${block}.conv.${k}.${piece === 'conv' ? 0 : 1}`;
  }
  return `${block}.block.${k}.${piece === 'conv' ? 0 : 1}`;
}

/** A weight name split into its layer and the weight's own name (`layer1.0.conv1/kernel`; a scope before the layer is dropped). */
function splitName(name: string): { layer: string; weight: string } {
  const parts = name.split('/');
  return { layer: parts.length > 1 ? (parts[parts.length - 2] as string) : '', weight: parts[parts.length - 1] as string };
}

/**
 * For each weight of a model (`layer/weight` names, as LayerVariable.originalName) that has a torchvision
 * counterpart: its state-dict key and layout. Weights of layers with none (a detector's FPN and heads, activation
 * parameters) are absent from the map; `family` is null when the layers follow no torchvision architecture.
 */
export function torchvisionKeys(weights: readonly { name: string; shape: readonly number[] }[]): {
  family: TorchvisionFamily | null;
  keys: Map<string, TorchvisionSource>;
} {
  const layers = new Set(weights.map((w) => splitName(w.name).layer));
  const family = torchvisionFamily(layers);
  const keys = new Map<string, TorchvisionSource>();
  if (!family) return { family, keys };
  const parts = new Set([...layers].map((l) => l.slice(0, Math.max(0, l.lastIndexOf('.')))));
  const hasPart = (prefix: string): boolean => parts.has(prefix);
  for (const w of weights) {
    const { layer, weight } = splitName(w.name);
    const module = moduleOf(family, layer, hasPart);
    const f = module === null ? null : field(weight, w.shape.length);
    if (module !== null && f) keys.set(w.name, { key: `${module}.${f.field}`, layout: f.layout });
  }
  return { family, keys };
}

/** The shape a torchvision tensor of that layout has in pwlu's layout (null when the rank does not fit the layout). */
export function pwluShape(layout: TorchLayout, torchShape: readonly number[]): number[] | null {
  const perm = PERMUTATION[layout];
  if (!perm) return [...torchShape];
  if (torchShape.length !== perm.length) return null;
  return perm.map((a) => torchShape[a] as number);
}

/** A torchvision tensor's values in pwlu's layout (row-major, as tfjs stores them). */
export function toPwluLayout(layout: TorchLayout, torchShape: readonly number[], values: Float32Array): Float32Array {
  const perm = PERMUTATION[layout];
  if (!perm) return values;
  const rank = perm.length;
  if (torchShape.length !== rank) throw new Error(`a ${layout} tensor must have rank ${rank}, not [${torchShape.join(', ')}]`);
  const outShape = perm.map((a) => torchShape[a] as number);
  // Strides of the source, read in the output's axis order.
  const srcStrides = new Array<number>(rank);
  let s = 1;
  for (let a = rank - 1; a >= 0; a--) {
    srcStrides[a] = s;
    s *= torchShape[a] as number;
  }
  const strides = perm.map((a) => srcStrides[a] as number);
  const out = new Float32Array(values.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = values[src] as number;
    // Odometer over the output's indices, innermost last, moving the source offset along.
    for (let a = rank - 1; a >= 0; a--) {
      idx[a] = (idx[a] as number) + 1;
      src += strides[a] as number;
      if ((idx[a] as number) < (outShape[a] as number)) break;
      src -= (idx[a] as number) * (strides[a] as number);
      idx[a] = 0;
    }
  }
  return out;
}
