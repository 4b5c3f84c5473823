import { join, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { PWLU_ONNX_FORMS, type PwluOnnxForm } from '../activations/specs/pwlu.js';
import type { ExportFormat } from '../export/export-run.js';
import { RUN_FILES } from '../run/files.js';
import { UserError } from '../util/errors.js';

/** Options of `pwlu export`. */
export interface ExportCliOptions {
  run: string;
  checkpoint: 'best' | 'last';
  format: ExportFormat;
  out?: string;
  batch: string;
  /** ONNX: fold batch norm into the convolutions (--no-fold-bn keeps it). */
  foldBn: boolean;
  /** ONNX of a PWLU run: the form PWLU is written in (default: the export's, chain). */
  pwluForm?: PwluOnnxForm;
  json: boolean;
}

/** Defines `pwlu export` and its options, so the flags sit beside the code that reads them. */
export function register(program: Command): void {
  program
    .command('export')
    .description(
      "Write a run's checkpoint as a deployable model: ONNX (standard opset 14, batch norm folded into the convolutions, every learned activation in standard operators; PWLU inside its model-local pwlu.Pwlu function) or a TensorFlow.js layers model; the export is checked against the run's own logits (onnxruntime-node; tfjs cpu with pwlu/layers) and kept only within 1e-4 relative.",
    )
    .requiredOption('-r, --run <run_dir>', 'run directory written by pwlu train')
    .addOption(
      new Option(
        '--checkpoint <which>',
        'which checkpoint to export (best: the epoch chosen on val; a run without a val split selects nothing and exports last)',
      )
        .choices(['best', 'last'])
        .default('best'),
    )
    .addOption(
      new Option(
        '--format <format>',
        "onnx: standard-opset ONNX (NCHW); tfjs: TensorFlow.js layers model (model.json + weights.bin), loaded with the 'pwlu/layers' module",
      )
        .choices(['onnx', 'tfjs'])
        .default('onnx'),
    )
    .option('-o, --out <dir>', 'a new folder for the export (default: <run>/exports/<format>-<checkpoint loaded>)')
    .option('--batch <n|dynamic>', "the model's batch dimension: a fixed size or 'dynamic'", 'dynamic')
    .option('--no-fold-bn', 'ONNX: keep each batch norm as its own BatchNormalization node instead of folding it into the convolution')
    .addOption(
      new Option(
        '--pwlu-form <form>',
        "ONNX of a PWLU run: PWLU's standard-operator form; chain (the default) is the fastest at onnxruntime's default level (all), table at 'extended' (README, Performance)",
      ).choices(PWLU_ONNX_FORMS),
    )
    .option('--json', 'print export.json (and the folder) as JSON', false)
    .action(async (opts: ExportCliOptions) => {
      await exportCommand(opts);
    });
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
  if (o.format === 'tfjs' && o.pwluForm) throw new UserError('--pwlu-form applies to ONNX: the tfjs format keeps the PWLU layers as trained');
  const [{ exportRun }, { disposeModel }, { openRunDir }, { restoreRun }, { registryChecks }, { printConfigWarnings }] = await Promise.all([
    import('../export/export-run.js'),
    import('../models/infer.js'),
    import('../run/run-dir.js'),
    import('../train/restore.js'),
    import('../train/registry-checks.js'),
    import('./common.js'),
  ]);
  const run = openRunDir(resolve(o.run));
  const restored = await restoreRun(run, o.checkpoint, { extraChecks: registryChecks });
  if (restored.task === 'detection') {
    disposeModel(restored.model);
    throw new UserError(`${run.dir} is a detection run: pwlu export writes classification networks (detectors are not exported yet)`);
  }
  if (o.pwluForm && restored.config.activation.name !== 'pwlu') {
    disposeModel(restored.model);
    throw new UserError(`--pwlu-form applies to PWLU runs: ${run.dir} trained ${restored.config.activation.name}`);
  }
  printConfigWarnings('export', restored.warnings);
  if (restored.note) process.stderr.write(`pwlu export: ${restored.note}\n`);
  // The default folder is named from the checkpoint loaded: `best` of a run that selects nothing loads `last`.
  const out = resolve(o.out ?? join(run.dir, RUN_FILES.exports, `${o.format}-${restored.checkpoint}`));
  try {
    const record = await exportRun(restored, run.dir, { format: o.format, out, batch, foldBn: o.foldBn, pwluForm: o.pwluForm });
    if (o.json) process.stdout.write(`${JSON.stringify({ ...record, out })}\n`);
    else {
      const c = record.check;
      process.stdout.write(
        `exported ${record.arch} + ${record.activation} (${record.checkpoint} checkpoint, epoch ${record.epoch}) to ${shown(out)}/${record.file}\n` +
          `check on ${c.examples} examples in ${c.runtime}: max |logit difference| ${c.max_abs_diff.toExponential(2)} (${c.max_rel_diff.toExponential(2)} relative), same top-1: ${c.same_top1 ? 'yes' : 'no'}\n`,
      );
    }
  } finally {
    disposeModel(restored.model);
  }
}
