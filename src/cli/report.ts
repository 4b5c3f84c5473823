import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { REPORT_FORMATS, renderReport, reportFromDir, writeFileAtomic, type ReportFormat } from '../report/index.js';
import { UserError } from '../util/errors.js';

export interface ReportCliOptions {
  format?: string;
  baseline: string;
  out?: string;
}

function formatFor(o: ReportCliOptions): ReportFormat {
  if (o.format) {
    if (!(REPORT_FORMATS as readonly string[]).includes(o.format)) throw new UserError(`--format must be one of ${REPORT_FORMATS.join(', ')} (got '${o.format}')`);
    return o.format as ReportFormat;
  }
  const ext = o.out ? extname(o.out).slice(1).toLowerCase() : '';
  if (ext === 'markdown') return 'md';
  if (ext === 'htm') return 'html';
  return (REPORT_FORMATS as readonly string[]).includes(ext) ? (ext as ReportFormat) : 'md';
}

/** `pwlu report`: reads every run under a folder and prints (or writes) the comparison in one format. */
export async function reportCommand(dir: string, o: ReportCliOptions): Promise<void> {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UserError(`results folder ${dir} does not exist`);
  const format = formatFor(o);
  const text = renderReport(reportFromDir(root, o.baseline), format);
  if (o.out) {
    writeFileAtomic(resolve(o.out), text);
    process.stderr.write(`pwlu: wrote ${o.out} (${format})\n`);
  } else {
    process.stdout.write(text);
  }
}
