/** What several commands share at run time: the registry checks they pass to the config loader, and printing its warnings. */
export { registryChecks } from '../train/registry-checks.js';
export { versions } from '../util/provenance.js';

/** Prints the config loader's warnings (deprecated keys) on stderr, for commands that have no run log. */
export function printConfigWarnings(command: string, warnings: readonly string[]): void {
  for (const w of warnings) process.stderr.write(`pwlu ${command}: warning: ${w}\n`);
}
