import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_TRACE_HINT } from '../run/status.js';
import { ExitCode, UserError } from '../util/errors.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { register as registerBench } from './bench.js';
import { register as registerData } from './data.js';
import { register as registerDoctor } from './doctor.js';
import { register as registerEval } from './eval.js';
import { register as registerExport } from './export.js';
import { register as registerModels } from './models.js';
import { register as registerReport } from './report.js';
import { register as registerSpeed } from './speed.js';
import { register as registerTrain } from './train.js';

/** Every command, in the order `pwlu --help` lists them; each module defines its own flags and loads its heavy code only when run. */
const COMMANDS: readonly ((program: Command) => void)[] = [
  registerTrain,
  registerEval,
  registerExport,
  registerData,
  registerSpeed,
  registerBench,
  registerReport,
  registerModels,
  registerDoctor,
];

function version(): string {
  return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Builds the commander program from the commands' own registrations; heavy modules (tfjs) load only inside the actions. */
export function buildProgram(): Command {
  const program = new Command('pwlu')
    .description('Learn specialised activation functions (PWLU, Zhou et al. ICCV 2021) and compare them against the baselines.')
    .version(version(), '-V, --version', 'print the pwlu version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) });
  for (const register of COMMANDS) register(program);
  return program;
}

/** Entry point: runs the CLI and maps every failure to a one-line message and a documented exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    // A command may end without an error yet with a status of its own (an interrupted run: 130).
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by commander.
      return e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (e instanceof UserError) {
      process.stderr.write(`pwlu: error: ${e.message}\n`);
      return e.exitCode;
    }
    const err = e as Error;
    process.stderr.write(`pwlu: internal error: ${err?.message ?? String(e)}\n`);
    if (process.env.PWLU_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    else process.stderr.write(`${STACK_TRACE_HINT}\n`);
    return ExitCode.internal;
  }
}
