/** The report's public surface: read a results folder, render it, or write every format next to the results. */
import { join } from 'node:path';
import { writeFileAtomic } from '../util/io.js';
import { renderCsv, renderJson, renderMarkdown } from './format.js';
import { renderHtml } from './html.js';
import type { Report } from './model.js';

export { reportFromDir, buildReport, type Report } from './model.js';
export { collectRuns } from './collect.js';

import type { ReportFormat } from './formats.js';

export { REPORT_FORMATS, type ReportFormat } from './formats.js';

/** Renders a report in one format, so every command produces identical files. */
export function renderReport(r: Report, format: ReportFormat): string {
  switch (format) {
    case 'md':
      return renderMarkdown(r);
    case 'csv':
      return renderCsv(r);
    case 'html':
      return renderHtml(r);
    case 'json':
      return renderJson(r);
  }
}

/** Writes results.csv, report.md and report.html into a results folder (what `pwlu bench` leaves at the end). */
export function writeReportFiles(dir: string, r: Report): string[] {
  const files: [string, ReportFormat][] = [
    ['results.csv', 'csv'],
    ['report.md', 'md'],
    ['report.html', 'html'],
  ];
  return files.map(([name, format]) => {
    const p = join(dir, name);
    writeFileAtomic(p, renderReport(r, format));
    return p;
  });
}
