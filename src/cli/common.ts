/** What several commands share at run time: printing the config loader's warnings. */

/** Prints the config loader's warnings (deprecated keys) on stderr, for commands that have no run log. */
export function printConfigWarnings(command: string, warnings: readonly string[]): void {
  for (const w of warnings) process.stderr.write(`pwlu ${command}: warning: ${w}\n`);
}
