import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { REPORT_FORMATS, type ReportFormat } from '../report/formats.js';
import { BENCH_FILES } from '../run/files.js';
import { UserError } from '../util/errors.js';
import { resultsDir } from '../util/workspace.js';

/** Options of `pwlu report`. */
export interface ReportCliOptions {
  format?: string;
  baseline: string;
  out?: string;
}

/** Defines `pwlu report` and its options, so the flags sit beside the code that reads them. */
export function register(program: Command): void {
  program
    .command('report')
    .description(
      "Compare the runs under a results folder (a bench's cells or plain run directories): top-1 mean ± std over seeds, Δ vs a baseline with Welch's t-test, the paper's PWLU − Swish, activation parameters, img/s.",
    )
    .argument('[results_dir]', 'folder searched recursively for run directories (default: the most recent bench under results/, else results/)')
    .addOption(
      new Option(
        '-f, --format <format>',
        "md (tables), csv (results.csv: one row per run), html (self-contained, with charts), json (default: from --out's extension, else md)",
      ).choices(REPORT_FORMATS),
    )
    .option(
      '--baseline <name>',
      "what the Δs compare against: an activation (a column), 'base' (the base config's row of a sweep bench) or KEY=VALUE (the row with that swept value, e.g. activation.pwlu.n=16 or pwlu.n=16); a sweep bench without swish runs uses base",
      'swish',
    )
    .option('-o, --out <file>', 'write to this file instead of stdout')
    .action(async (dir: string | undefined, opts: ReportCliOptions) => {
      await reportCommand(dir, opts);
    });
}

function formatFor(o: ReportCliOptions): ReportFormat {
  if (o.format) {
    if (!(REPORT_FORMATS as readonly string[]).includes(o.format))
      throw new UserError(`--format must be one of ${REPORT_FORMATS.join(', ')} (got '${o.format}')`);
    return o.format as ReportFormat;
  }
  const ext = o.out ? extname(o.out).slice(1).toLowerCase() : '';
  if (ext === 'markdown') return 'md';
  if (ext === 'htm') return 'html';
  return (REPORT_FORMATS as readonly string[]).includes(ext) ? (ext as ReportFormat) : 'md';
}

/** Without a folder: the most recently changed bench under results/ (a folder with bench.json), else results/ itself. */
function defaultResultsDir(): string {
  const results = resultsDir();
  if (!existsSync(results)) throw new UserError(`no results folder given and ${results} does not exist: train something first, or name a folder`);
  const benches = readdirSync(results, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(results, e.name, BENCH_FILES.manifest)))
    .map((e) => join(results, e.name));
  if (benches.length === 0) return results;
  return benches.reduce((a, b) => (statSync(join(b, BENCH_FILES.manifest)).mtimeMs > statSync(join(a, BENCH_FILES.manifest)).mtimeMs ? b : a));
}

/** `pwlu report`: reads every run under a folder and prints (or writes) the comparison in one format. */
export async function reportCommand(dir: string | undefined, o: ReportCliOptions): Promise<void> {
  if (dir === undefined) {
    dir = defaultResultsDir();
    process.stderr.write(
      `pwlu: reporting on ${relative(process.cwd(), dir) || '.'} (${dir.endsWith('results') ? 'every run under results/' : 'the most recent bench'}; give a folder to choose another)\n`,
    );
  }
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UserError(`results folder ${dir} does not exist`);
  const format = formatFor(o);
  const [{ renderReport, reportFromDir }, { writeFileAtomic }] = await Promise.all([import('../report/index.js'), import('../util/io.js')]);
  const text = renderReport(reportFromDir(root, o.baseline), format);
  if (o.out) {
    writeFileAtomic(resolve(o.out), text);
    process.stderr.write(`pwlu: wrote ${o.out} (${format})\n`);
  } else {
    process.stdout.write(text);
  }
}
