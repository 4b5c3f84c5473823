import { z } from 'zod';
import { ACTIVATION_OPTIONS, isActivationName } from '../activations/options.js';
import { BACKENDS, DEVICES } from '../backends/names.js';

/**
 * The one typed schema of an experiment. Every default lives here (each activation's options in
 * src/activations/options.ts); YAML and `--set` override it.
 * Objects are strict (unknown keys are errors), as in nanoGPT's configurator.
 */

/** The backend choices (src/backends/names.ts owns the list; re-exported for the config's readers). */
export { BACKENDS };
export const DATASETS = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'imagefolder', 'shards', 'synthetic', 'coco', 'fashion-mnist-detection'] as const;
/** The datasets `task: detection` reads (COCO's layout: `annotations/instances_<split>.json` + `<split>/` images). */
export const DETECTION_DATASETS = ['coco', 'fashion-mnist-detection'] as const;
/** What a run learns: image classification (top-1/top-5), or object detection (COCO's AP). */
export const TASKS = ['classification', 'detection'] as const;

/** Whether a string compiles as a JavaScript regular expression. */
function isRegExp(v: string): boolean {
  try {
    new RegExp(v);
    return true;
  } catch {
    return false;
  }
}

export const ModelSchema = z
  .strictObject({
    /** Registered architecture name, e.g. resnet20. Checked against the model registry. */
    arch: z.string().min(1).default('resnet20'),
    /** Channel width multiplier (MobileNet-style); 1 is the reference width. */
    width: z.number().positive().max(4).default(1),
    /** Stem: 'imagenet' for 224x224 inputs, 'small' for 32x32/28x28, 'auto' picks by input size. */
    stem: z.enum(['auto', 'imagenet', 'small']).default('auto'),
    /**
     * Initial weights: a pwlu run directory or checkpoint (by weight name, learned activation parameters included), or a
     * torchvision state_dict saved with torch.save (`.pth`/`.pt`). Detection: the backbone's; classification: the whole
     * network's (fine-tuning, possibly with another activation swapped in). null = random init.
     */
    init: z.string().min(1).nullable().default(null),
    /**
     * Weights model.init leaves at their initial value, as regular expressions over pwlu weight names (e.g. `^fc/` to
     * fine-tune a classifier on another number of classes). A detector's FPN and heads are always left out.
     */
    init_exclude: z
      .array(
        z
          .string()
          .min(1)
          .refine((v) => isRegExp(v), { error: 'not a valid regular expression' }),
      )
      .default([]),
  })
  .default({ arch: 'resnet20', width: 1, stem: 'auto', init: null, init_exclude: [] });

/** Every activation's options section, each optional and validated by that activation's own schema. */
function optionSections<T extends Record<string, z.ZodType>>(schemas: T): { [K in keyof T]: z.ZodOptional<T[K]> } {
  return Object.fromEntries(Object.entries(schemas).map(([k, v]) => [k, v.optional()])) as { [K in keyof T]: z.ZodOptional<T[K]> };
}

/**
 * Activation: a registered name, where it goes, and one options section per activation (`activation.pwlu.n`), so
 * that swapping `name` (a bench, a sweep) keeps every activation's options. Only the chosen activation's section is
 * used; it is filled from that activation's defaults, so a resolved config shows all of its options.
 */
export const ActivationSchema = z
  .strictObject({
    name: z.string().min(1).default('relu'),
    /**
     * Which sites take it: 'all', or 'default' = only the family's main-activation sites
     * (MobileNet-V3: the hard-swish ones; its ReLU sites stay ReLU).
     */
    sites: z.enum(['all', 'default']).default('all'),
    ...optionSections(ACTIVATION_OPTIONS),
  })
  .transform((a) => {
    const name = a.name;
    if (!isActivationName(name) || a[name] !== undefined) return a;
    return { ...a, [name]: ACTIVATION_OPTIONS[name].parse({}) };
  })
  .prefault({});

export const AugmentSchema = z
  .strictObject({
    /** Zero-pad each side by this many pixels, then random-crop back to size. 0 disables. */
    crop_padding: z.number().int().min(0).max(16).default(0),
    /** Random horizontal flip: 'auto' enables it where it preserves labels (not for digits). */
    flip: z.union([z.boolean(), z.literal('auto')]).default(false),
    /** Streamed image datasets (imagefolder, shards): RandomResizedCrop's range of the crop's area, as a fraction of the image's. */
    scale: z
      .tuple([z.number().gt(0).max(1), z.number().gt(0).max(1)])
      .refine(([a, b]) => a <= b, { error: 'must be [min, max] with min <= max' })
      .default([0.08, 1]),
    /** Streamed image datasets: RandomResizedCrop's range of the crop's aspect ratio (width / height). */
    ratio: z
      .tuple([z.number().positive(), z.number().positive()])
      .refine(([a, b]) => a <= b, { error: 'must be [min, max] with min <= max' })
      .default([3 / 4, 4 / 3]),
    /** Streamed image datasets, evaluation: resize the shorter side to image_size / crop_pct, then centre-crop image_size. */
    crop_pct: z.number().gt(0).max(1).default(0.875),
  })
  .prefault({});

export const SyntheticSchema = z
  .strictObject({
    train: z.number().int().positive().default(256),
    test: z.number().int().positive().default(64),
    size: z.number().int().min(4).max(256).default(16),
    channels: z.number().int().min(1).max(4).default(3),
    classes: z.number().int().min(2).max(1000).default(4),
  })
  .default({ train: 256, test: 64, size: 16, channels: 3, classes: 4 });

export const DataSchema = z
  .strictObject({
    name: z.enum(DATASETS).default('fashion-mnist'),
    /** Directory holding the dataset files; searched first. */
    dir: z.string().nullable().default(null),
    /** Train on this many images (a seeded random subset); null = all. */
    train_subset: z.number().int().positive().nullable().default(null),
    /** Fraction of the training set held out (seeded) as a validation split. */
    val_split: z.number().min(0).max(0.5).default(0),
    /** Side length images are resized to (imagefolder); null = the dataset's native size. */
    image_size: z.number().int().min(8).max(1024).nullable().default(null),
    /** Download from the canonical source when the files are not found locally. */
    download: z.boolean().default(true),
    augment: AugmentSchema,
    synthetic: SyntheticSchema,
    /** Tar shards in the WebDataset convention (data.name: shards): a brace pattern (`shard-{000000..000146}.tar`) or a folder, per split. */
    shards: z
      .strictObject({ train: z.string().min(1), eval: z.string().min(1) })
      .nullable()
      .default(null),
    /** Streamed datasets: decoding workers; null = the cores left after the trainer's threads (at least 1). */
    workers: z.number().int().min(1).max(256).nullable().default(null),
    /** Streamed datasets: batches decoded ahead of the training step. */
    prefetch: z.number().int().min(1).max(64).default(2),
    /** Streamed datasets: a corrupt or unreadable image is skipped (and counted), or stops the run (exit 2). */
    on_bad_image: z.enum(['skip', 'error']).default('skip'),
  })
  .prefault({});

export const OptimizerSchema = z
  .strictObject({
    name: z.enum(['sgd', 'adam']).default('sgd'),
    /** SGD momentum (0 = plain SGD). */
    momentum: z.number().min(0).max(0.999).default(0.9),
    nesterov: z.boolean().default(false),
    /** Adam betas. */
    beta1: z.number().min(0).max(0.9999).default(0.9),
    beta2: z.number().min(0).max(0.99999).default(0.999),
    eps: z.number().positive().default(1e-8),
  })
  .default({ name: 'sgd', momentum: 0.9, nesterov: false, beta1: 0.9, beta2: 0.999, eps: 1e-8 });

export const ScheduleSchema = z
  .strictObject({
    name: z.enum(['cosine', 'step', 'constant']).default('cosine'),
    /** Linear warm-up from lr*warmup_factor to lr over this many epochs (fractional allowed). */
    warmup_epochs: z.number().min(0).default(0),
    /** Warm-up length in optimizer steps instead (detection recipes: 500 iterations); null = warmup_epochs. */
    warmup_steps: z.number().int().min(0).nullable().default(null),
    warmup_factor: z.number().min(0).max(1).default(0.1),
    /** Step schedule: multiply lr by gamma at each of these epochs. */
    milestones: z.array(z.number().int().positive()).default([]),
    gamma: z.number().positive().max(1).default(0.1),
    /** Cosine schedule: final lr as a fraction of the peak lr. */
    min_lr_factor: z.number().min(0).max(1).default(0),
  })
  .default({ name: 'cosine', warmup_epochs: 0, warmup_steps: null, warmup_factor: 0.1, milestones: [], gamma: 0.1, min_lr_factor: 0 });

export const TrainSchema = z
  .strictObject({
    epochs: z.number().int().positive().max(10_000).default(10),
    batch: z.number().int().positive().max(65_536).default(64),
    /** Peak learning rate. */
    lr: z.number().positive().max(10).default(0.1),
    optimizer: OptimizerSchema,
    schedule: ScheduleSchema,
    weight_decay: z.number().min(0).max(1).default(5e-4),
    /** Parameter groups excluded from weight decay. */
    no_decay: z
      .strictObject({
        bn: z.boolean().default(true),
        bias: z.boolean().default(true),
        activation: z.boolean().default(true),
      })
      .default({ bn: true, bias: true, activation: true }),
    label_smoothing: z.number().min(0).max(0.5).default(0),
    /** Evaluate (and checkpoint) every this many epochs; the last epoch is always evaluated. */
    eval_every: z.number().int().positive().default(1),
    /** Eval batch size; null = 2x the training batch. */
    eval_batch: z.number().int().positive().nullable().default(null),
    /** Stop after this many training steps per epoch (a quick smoke run); null = the full epoch. */
    max_steps_per_epoch: z.number().int().positive().nullable().default(null),
    /** Distributed runs: batch-norm statistics over every rank's batch (SyncBatchNorm) instead of each rank's own. */
    sync_bn: z.boolean().default(false),
  })
  .default({
    epochs: 10,
    batch: 64,
    lr: 0.1,
    optimizer: { name: 'sgd', momentum: 0.9, nesterov: false, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    schedule: { name: 'cosine', warmup_epochs: 0, warmup_steps: null, warmup_factor: 0.1, milestones: [], gamma: 0.1, min_lr_factor: 0 },
    weight_decay: 5e-4,
    no_decay: { bn: true, bias: true, activation: true },
    label_smoothing: 0,
    eval_every: 1,
    eval_batch: null,
    max_steps_per_epoch: null,
    sync_bn: false,
  });

/** Data-parallel training over torch.distributed (c10d); used only when a launcher (torchrun, srun, --nproc) starts several ranks. */
export const DistSchema = z
  .strictObject({
    /** Collective backend: gloo on the CPU, nccl on CUDA; auto picks by device. */
    backend: z.enum(['auto', 'gloo', 'nccl']).default('auto'),
    /** Seconds a collective or a store wait may take before the run fails, naming the rank. */
    timeout_s: z.number().positive().max(86_400).default(300),
    /** Gradient allreduce bucket size in MiB. */
    bucket_mb: z.number().positive().max(4096).default(25),
    /** Compare a parameter checksum across ranks every this many steps (0 = never); a divergence fails the run. */
    check_every: z.number().int().min(0).default(0),
  })
  .default({ backend: 'auto', timeout_s: 300, bucket_mb: 25, check_every: 0 });

/**
 * Object detection (`task: detection`): the detector, its input transform, anchors, losses and inference. Defaults are
 * torchvision's / Detectron2's RetinaNet (the "1x" COCO recipe); configs/coco/*.yaml say which values are the paper's.
 */
export const DetectionSchema = z
  .strictObject({
    /** Detector family (the registry in src/models/detectors.ts). */
    detector: z.enum(['retinanet']).default('retinanet'),
    /** FPN and head width (channels). */
    head_width: z.number().int().min(1).max(1024).default(256),
    /** Convolutions (each followed by an activation site) per head. */
    head_convs: z.number().int().min(0).max(8).default(4),
    /**
     * Init of the heads' hidden convolutions: normal = torchvision's N(0, 0.01); kaiming = He-normal (ours, for narrow
     * heads trained from scratch, whose signal N(0, 0.01) all but extinguishes). The predictors keep N(0, 0.01) either way.
     */
    head_init: z.enum(['normal', 'kaiming']).default('normal'),
    /** Backbone batch norm: frozen (running statistics, no gradient: torchvision's FrozenBatchNorm2d), train, or sync (statistics over every rank). */
    backbone_bn: z.enum(['frozen', 'train', 'sync']).default('frozen'),
    /** Split names under data.dir (COCO layout); null = the dataset's own (coco: train2017 / held out from train / val2017). */
    splits: z
      .strictObject({
        train: z.string().min(1).nullable().default(null),
        val: z.string().min(1).nullable().default(null),
        test: z.string().min(1).nullable().default(null),
      })
      .prefault({}),
    /** Input: resize the shorter side to min_size, capped so the longer side is <= max_size; pad each batch to a multiple of pad_to. */
    min_size: z.number().int().min(16).max(4096).default(800),
    max_size: z.number().int().min(16).max(8192).default(1333),
    pad_to: z.literal(128).default(128),
    /** Probability of a horizontal flip in training. */
    flip: z.number().min(0).max(1).default(0.5),
    /** Anchor sizes of P3..P7 (3 scales per octave and ratios 0.5/1/2 at each). */
    anchor_sizes: z.array(z.number().positive()).length(5).default([32, 64, 128, 256, 512]),
    /** Matching: IoU >= fg_iou is positive, < bg_iou negative, in between ignored; low-quality matches allowed. */
    fg_iou: z.number().gt(0).max(1).default(0.5),
    bg_iou: z.number().min(0).max(1).default(0.4),
    focal_alpha: z.number().min(0).max(1).default(0.25),
    focal_gamma: z.number().min(0).max(10).default(2),
    /** Box regression loss on the encoded deltas (l1, smooth_l1) or on the decoded boxes (giou). */
    box_loss: z.enum(['l1', 'smooth_l1', 'giou']).default('l1'),
    /** smooth_l1's beta: torchvision's RetinaNet default 1.0 (Detectron2 uses 0.1). */
    smooth_l1_beta: z.number().positive().default(1),
    /** Inference: per level the top `topk_candidates` scoring above score_thresh, per-class NMS at nms_iou, detections_per_img kept. */
    score_thresh: z.number().min(0).max(1).default(0.05),
    topk_candidates: z.number().int().positive().default(1000),
    nms_iou: z.number().gt(0).max(1).default(0.5),
    detections_per_img: z.number().int().positive().default(100),
  })
  .refine((d) => d.bg_iou <= d.fg_iou, { error: 'bg_iou must be <= fg_iou' })
  .refine((d) => d.min_size <= d.max_size, { error: 'min_size must be <= max_size' })
  .prefault({});

export const ConfigSchema = z.strictObject({
  /** What the run learns: classification (the default) or detection (RetinaNet, COCO metrics; the `detection` section). */
  task: z.enum(TASKS).default('classification'),
  /** Free-form run name; used in the run directory name. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only')
    .nullable()
    .default(null),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(0),
  backend: z.enum(BACKENDS).default('auto'),
  /** Compute threads for native backends; 0 = all cores. */
  threads: z.number().int().min(0).max(1024).default(0),
  /** Device for the torch backend. */
  device: z.enum(DEVICES).default('auto'),
  model: ModelSchema,
  activation: ActivationSchema,
  data: DataSchema,
  train: TrainSchema,
  detection: DetectionSchema,
  dist: DistSchema,
});

export type Config = z.infer<typeof ConfigSchema>;
export type DataConfig = Config['data'];
export type TrainConfig = Config['train'];
export type DistConfig = Config['dist'];
export type DetectionConfig = Config['detection'];
export type ModelConfig = Config['model'];
export type ActivationConfig = Config['activation'];
export type BackendName = Config['backend'];
