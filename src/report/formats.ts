/** The report's output formats, in a module of their own so the CLI can list them without loading the report. */

/** Report formats `pwlu report --format` accepts. */
export const REPORT_FORMATS = ['md', 'csv', 'html', 'json'] as const;

/** One report format. */
export type ReportFormat = (typeof REPORT_FORMATS)[number];
