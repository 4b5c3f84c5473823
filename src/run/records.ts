/** The records a run directory holds: one metrics.jsonl line per epoch or event, and summary.json. */
import type { SummaryStatus } from './status.js';

/** One epoch line of metrics.jsonl. Test and val fields are null on epochs without evaluation. */
export interface EpochRecord {
  epoch: number;
  lr: number;
  train_loss: number;
  /** Classification: top-1 on the training batches (null for detection). */
  train_top1: number | null;
  /** Detection: the two terms of train_loss (focal classification loss, box regression loss). */
  train_cls_loss?: number;
  train_box_loss?: number;
  test_loss: number | null;
  test_top1: number | null;
  test_top5: number | null;
  /** Present when the run holds out a validation split. */
  val_loss?: number | null;
  val_top1?: number | null;
  val_top5?: number | null;
  /** Detection, evaluated epochs: COCO's twelve numbers on test (and val), as fractions (AP 0.372, not 37.2). */
  test_coco?: CocoFigures | null;
  val_coco?: CocoFigures | null;
  seconds: number;
  img_per_s: number;
  /** Streamed datasets: seconds the training step waited for the input pipeline this epoch (rank 0's, in a data-parallel run). */
  data_wait_s?: number;
  /** Streamed datasets: training images skipped this epoch because they could not be read or decoded (rank 0's share, in a data-parallel run). */
  skipped_images?: number;
  /** Streamed datasets, evaluated epochs: test (and val) images skipped by the evaluation, which counted the rest. */
  eval_skipped_images?: number;
}

/** COCO's twelve detection numbers by name (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl: src/detection/coco-eval.ts); -1 where undefined. */
export type CocoFigures = Record<string, number>;

/** COCO's figures as read from disk (metrics.jsonl, summary.json): the finite numeric entries of an object, null for anything else. */
export function cocoFigures(v: unknown): CocoFigures | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: CocoFigures = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'number' && Number.isFinite(x)) out[k] = x;
  return Object.keys(out).length ? out : null;
}

/** An event line of metrics.jsonl (e.g. PWLU's realignment), stamped with the 0-based epoch it happened at the start of. */
export interface EventRecord {
  event: string;
  epoch: number;
  [key: string]: unknown;
}

/** The split that chose a best epoch: val; 'test' only in summaries written before runs without a val split stopped selecting. */
export type SelectionSplit = 'val' | 'test';

/**
 * How a run chooses the epoch it reports: on its validation split ('val'), or not at all ('none': no
 * validation split, so the result is the last epoch, `final`, and there is no best epoch or checkpoint).
 */
export type Selection = 'val' | 'none';

/** The reason summary.json and the printed summary give when a run selects nothing. */
export const NO_SELECTION_NOTE = 'no validation split: reporting the last epoch; nothing is selected';

/** The best epoch of a classification run, chosen on `split`; `test_top1` is the test top-1 at that epoch (the figure to report). */
export interface ClassificationBest {
  epoch: number;
  split: SelectionSplit;
  /** Top-1 on the selecting split. */
  top1: number;
  test_top1: number | null;
  test_top5: number | null;
}

/** The best epoch of a detection run, chosen on val AP; `test_coco` holds the test figures at that epoch (the ones to report). */
export interface DetectionBest {
  epoch: number;
  split: 'val';
  metric: 'AP';
  /** AP on val. */
  score: number;
  test_coco: CocoFigures | null;
}

/** The selected epoch of a run, whichever its task. */
export type BestRecord = ClassificationBest | DetectionBest;

/** Whether a best record is a detection run's. */
export function isDetectionBest(b: BestRecord): b is DetectionBest {
  return 'metric' in b;
}

/** The score that selected a best record (val top-1 or val AP), to compare a new epoch against. */
export function bestScore(b: BestRecord | { top1: number }): number {
  return 'metric' in b ? b.score : b.top1;
}

/** How a run ended, as summary.json says (the vocabulary is src/run/status.ts's). */
export type { SummaryStatus };

/** summary.json: what a finished (or stopped) run produced, and what produced it. */
export interface Summary {
  status: SummaryStatus;
  arch: string;
  activation: string;
  dataset: string;
  seed: number;
  epochs: number;
  epochs_completed: number;
  final: { top1: number; top5: number; loss: number } | null;
  /** The task (absent in classification summaries, and in those written before detection existed). */
  task?: 'detection';
  /** Detection: COCO's figures on test at the last evaluated epoch (what `final` is for classification). */
  final_coco?: CocoFigures | null;
  /** Which activation sites took the configured activation, and how many of how many. */
  activation_sites: { mode: 'all' | 'default'; replaced: number; total: number };
  /** How the reported epoch was chosen (absent in summaries written before it, whose best may say split 'test'). */
  selection: Selection;
  /** The epoch chosen on val; null when the run selects nothing (selection 'none') or evaluated no epoch yet. */
  best: BestRecord | null;
  params: number;
  act_params: number;
  img_size: number;
  wall_s: number;
  train_img_per_s: number;
  backend: { name: string; reason: string; detail: Record<string, string | number | boolean> };
  versions: Record<string, string>;
  /** The pwlu checkout's short commit (null outside a git checkout); summaries before `git_dirty` may hold `<sha>-dirty` here (read them with recordedCodeVersion). */
  git_commit: string | null;
  /** Whether tracked files differed from `git_commit` when the run started (null outside a git checkout; absent in older summaries). */
  git_dirty: boolean | null;
  config_hash: string;
  /** Streamed datasets: training images skipped over the whole run because they could not be read or decoded. */
  skipped_images?: number;
  /**
   * Peak memory of this process (the last attempt of a resumed run): tensor bytes where the torch addon's CPU
   * allocator counts them (null otherwise), and the process's peak resident set (null off Linux).
   */
  memory?: { peak_tensor_bytes: number | null; peak_rss_bytes: number | null };
  /** A data-parallel run: its world size, collective backend, launcher, per-rank and global batch, and whether BN was synchronised. */
  distributed?: { world_size: number; backend: 'gloo' | 'nccl'; launcher: string; per_rank_batch: number; global_batch: number; sync_bn: boolean };
  error?: string;
}

const fmt = (v: number | null | undefined, digits: number, scale = 1) => (v == null || !Number.isFinite(v) || v < 0 ? 'n/a' : (v * scale).toFixed(digits));

/** A summary's headline result in one phrase, whichever its task: test top-1, or test AP (COCO's, in %). */
export function headlineResult(s: Partial<Pick<Summary, 'final' | 'task' | 'final_coco'>>): string {
  if (s.task === 'detection') return `AP ${fmt(s.final_coco?.AP, 1, 100)}`;
  return `top-1 ${typeof s.final?.top1 === 'number' ? `${s.final.top1.toFixed(2)}%` : 'n/a'}`;
}

/** The selected epoch in one phrase: where it was chosen, on what, and its test figure. */
export function describeBest(b: BestRecord): string {
  if (isDetectionBest(b)) return `epoch ${b.epoch} (chosen on ${b.split}: AP ${fmt(b.score, 1, 100)}), test AP ${fmt(b.test_coco?.AP, 1, 100)}`;
  return `epoch ${b.epoch} (chosen on ${b.split}: top-1 ${fmt(b.top1, 2)} %), test top-1 ${fmt(b.test_top1, 2)} %`;
}
