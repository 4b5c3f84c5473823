/**
 * What a training checkpoint holds, as opposed to its byte format (src/run/checkpoint.ts): the model's
 * weights under their own names, the optimizer's slots under `opt:<name>`, and a meta record with the
 * training position, the optimizer's step and the world size. The trainer writes it, the trainer's
 * resume and `restoreRun` (eval, export) read it; nobody else spells the prefix or the meta's shape.
 */
import type { BestRecord } from '../run/records.js';
import { readCheckpoint, writeCheckpoint, type StoredTensor } from '../run/checkpoint.js';

/** An epoch's running sums; `waitSeconds` and `skipped` (streamed datasets) are absent from checkpoints written before them. */
export interface EpochAcc {
  loss: number;
  correct: number;
  seen: number;
  seconds: number;
  waitSeconds?: number;
  skipped?: number;
  /** A task's loss terms summed over the images seen (detection: cls, box). */
  parts?: Record<string, number>;
}

/** Where training stands; stored in every checkpoint so a run resumes exactly. */
export interface TrainPosition {
  /** Epochs fully completed. */
  epoch: number;
  /** Batches done inside the current epoch (non-zero only for a mid-epoch checkpoint). */
  stepInEpoch: number;
  /** Whether the current epoch's start hooks (and their metrics events) have run. */
  epochStarted: boolean;
  globalStep: number;
  /** The selected epoch so far: null when nothing is selected (no val split) or nothing evaluated yet (checkpoints before selection on val recorded only top1 and epoch). */
  best: BestRecord | { top1: number; epoch: number } | null;
  /** Running sums of the current epoch, so that its train metrics survive an interruption. */
  epochAcc: EpochAcc;
  /** Wall seconds spent training before this process (for summary.json). */
  wallBefore: number;
  configHash: string;
}

/** A checkpoint's meta record: the position, the optimizer's step, and the world size it was trained on (absent before data-parallel runs: 1). */
export type CheckpointMeta = TrainPosition & { optimizer: { step: number }; worldSize?: number };

/** The name prefix that keeps optimizer slots apart from the model's weights in one tensor list. */
const OPT_PREFIX = 'opt:';

/** A training checkpoint split into what each consumer loads. */
export interface CheckpointContents {
  meta: CheckpointMeta;
  /** The model's weights (what eval and export load). */
  weights: StoredTensor[];
  /** The optimizer's slots under their own names (what a resume loads besides the weights). */
  slots: StoredTensor[];
}

/** Writes one training checkpoint, so that the slot prefix and meta shape are spelled only here. */
export function writeTrainCheckpoint(path: string, c: CheckpointContents): void {
  const tensors = [...c.weights, ...c.slots.map((s) => ({ ...s, name: `${OPT_PREFIX}${s.name}` }))];
  writeCheckpoint<CheckpointMeta>(path, { meta: c.meta, tensors });
}

/** Reads a training checkpoint back into weights, optimizer slots (prefix removed) and its typed meta. */
export function readTrainCheckpoint(path: string): CheckpointContents {
  const ckpt = readCheckpoint<CheckpointMeta>(path);
  const weights: StoredTensor[] = [];
  const slots: StoredTensor[] = [];
  for (const t of ckpt.tensors) {
    if (t.name.startsWith(OPT_PREFIX)) slots.push({ ...t, name: t.name.slice(OPT_PREFIX.length) });
    else weights.push(t);
  }
  return { meta: ckpt.meta, weights, slots };
}
