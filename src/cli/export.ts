import { join, relative, resolve } from 'node:path';
import { exportRun, type ExportFormat } from '../export/export-run.js';
import { disposeModel } from '../models/infer.js';
import { RUN_FILES } from '../run/files.js';
import { openRunDir } from '../run/run-dir.js';
import { restoreRun } from '../train/restore.js';
import { UserError } from '../util/errors.js';
import { printConfigWarnings, registryChecks } from './common.js';

export interface ExportCliOptions {
  run: string;
  checkpoint: 'best' | 'last';
  format: ExportFormat;
  out?: string;
  batch: string;
  /** ONNX: fold batch norm into the convolutions (--no-fold-bn keeps it). */
  foldBn: boolean;
  json: boolean;
}

/** A path relative to the working directory when it is below it, else absolute. */
function shown(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') ? rel : p;
}

function parseBatch(v: string): number | 'dynamic' {
  if (v === 'dynamic') return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--batch must be a positive integer or 'dynamic' (got '${v}')`);
  return n;
}

/** `pwlu export`: a run's checkpoint as a deployable model, checked against the run's own logits before it is kept. */
export async function exportCommand(o: ExportCliOptions): Promise<void> {
  const batch = parseBatch(o.batch);
  if (o.format === 'tfjs' && !o.foldBn) throw new UserError('--no-fold-bn applies to ONNX: the tfjs format keeps the layers as trained (batch norm included)');
  const run = openRunDir(resolve(o.run));
  const out = resolve(o.out ?? join(run.dir, RUN_FILES.exports, `${o.format}-${o.checkpoint}`));
  const restored = await restoreRun(run, o.checkpoint, { extraChecks: registryChecks });
  printConfigWarnings('export', restored.warnings);
  try {
    const record = await exportRun(restored, run.dir, o.checkpoint, { format: o.format, out, batch, foldBn: o.foldBn });
    if (o.json) process.stdout.write(`${JSON.stringify({ ...record, out })}\n`);
    else {
      const c = record.check;
      process.stdout.write(
        `exported ${record.arch} + ${record.activation} (${o.checkpoint} checkpoint, epoch ${record.epoch}) to ${shown(out)}/${record.file}\n` +
          `check on ${c.examples} examples in ${c.runtime}: max |logit difference| ${c.max_abs_diff.toExponential(2)} (${c.max_rel_diff.toExponential(2)} relative), same top-1: ${c.same_top1 ? 'yes' : 'no'}\n`,
      );
    }
  } finally {
    disposeModel(restored.model);
  }
}
