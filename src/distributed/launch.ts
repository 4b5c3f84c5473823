/**
 * `pwlu train --nproc N`: N local ranks of one data-parallel run, started the way torchrun starts its
 * workers (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, a free MASTER_PORT),
 * with the compute threads split between them. Rank 0 keeps the terminal (progress bar, summary); the
 * other ranks' stderr is shown only when they fail. Ctrl-C and SIGTERM go to every rank (each saves at
 * the same step); when one rank fails, the others get `graceS` seconds to fail by themselves (their
 * collectives notice) before they are stopped, so no process is left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../util/paths.js';

/** A free TCP port on 127.0.0.1 for the rendezvous (the OS picks one; it is free again when this returns). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** How `launchLocal` starts its ranks. */
export interface LocalLaunch {
  nproc: number;
  /** The arguments of each rank's command (for pwlu: `train …` without --nproc and --threads). */
  args: string[];
  /** Compute threads for the whole run (0 = every core), split evenly between the ranks (at least 1 each). */
  threads: number;
  /** The program and its leading arguments; default this pwlu. */
  command?: string[];
  /** Seconds the other ranks get to fail by themselves after one fails; default 30. */
  graceS?: number;
  /** Where rank > 0's failure output goes; default stderr. */
  report?: (text: string) => void;
}

/** How a rank ended: its exit code, or 128 + the signal that killed it. */
function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] : undefined;
  return 128 + (n ?? 1);
}

/**
 * The run's exit code from its ranks': a real failure (the first rank's to fail) before an
 * interruption (130), before success: a launcher script sees what went wrong, not a side effect.
 */
export function worstExitCode(codes: readonly number[], failedFirst: number | null): number {
  const failures = codes.filter((c) => c !== 0 && c !== 130);
  if (failures.length > 0) return failedFirst !== null && codes[failedFirst] !== 0 && codes[failedFirst] !== 130 ? codes[failedFirst]! : failures[0]!;
  return codes.includes(130) ? 130 : 0;
}

/** Runs the ranks to completion and returns the run's exit code (worstExitCode). */
export async function launchLocal(o: LocalLaunch): Promise<number> {
  if (!Number.isInteger(o.nproc) || o.nproc < 2) throw new RangeError(`--nproc must be an integer >= 2, got ${o.nproc}`);
  const port = await freePort();
  const total = o.threads > 0 ? o.threads : availableParallelism();
  const perRank = Math.max(1, Math.floor(total / o.nproc));
  const [program, ...lead] = o.command ?? [process.execPath, join(PROJECT_ROOT, 'bin', 'pwlu.js')];
  const report = o.report ?? ((t: string) => process.stderr.write(t));
  const graceS = o.graceS ?? 30;
  const children: ChildProcess[] = [];
  const codes: (number | null)[] = new Array<number | null>(o.nproc).fill(null);
  let failedFirst: number | null = null;
  let reaper: NodeJS.Timeout | null = null;

  const forward = (sig: NodeJS.Signals) => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(sig);
  };
  const onInt = () => forward('SIGINT');
  const onTerm = () => forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const done = Array.from({ length: o.nproc }, (_, rank) => {
      const env = {
        ...process.env,
        RANK: String(rank),
        WORLD_SIZE: String(o.nproc),
        LOCAL_RANK: String(rank),
        LOCAL_WORLD_SIZE: String(o.nproc),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        PWLU_LAUNCHER: 'pwlu',
      };
      // Own process groups: a terminal's Ctrl-C reaches this launcher only, which forwards it once to each rank.
      const child = spawn(program!, [...lead, ...o.args, '--threads', String(perRank)], {
        env,
        detached: true,
        stdio: rank === 0 ? 'inherit' : ['ignore', 'ignore', 'pipe'],
      });
      children.push(child);
      let tail = '';
      child.stderr?.on('data', (d: Buffer) => {
        tail = (tail + d.toString()).slice(-8000);
      });
      return new Promise<void>((resolve) => {
        child.on('error', (e) => {
          tail += `cannot start: ${e.message}\n`;
        });
        child.on('close', (code, signal) => {
          const status = exitStatus(code, signal);
          codes[rank] = status;
          if (status !== 0 && status !== 130) {
            if (failedFirst === null) failedFirst = rank;
            if (rank > 0)
              report(
                tail
                  .split('\n')
                  .filter(Boolean)
                  .slice(-50)
                  .map((l) => `[rank ${rank}] ${l}\n`)
                  .join(''),
              );
            report(`pwlu: rank ${rank} of ${o.nproc} exited with ${signal ? `${signal} (${status})` : `code ${status}`}\n`);
            // The others fail by themselves once a collective notices; stop any that do not.
            reaper ??= setTimeout(() => {
              forward('SIGTERM');
              setTimeout(() => forward('SIGKILL'), 10_000).unref();
            }, graceS * 1000);
            reaper.unref();
          }
          resolve();
        });
      });
    });
    await Promise.all(done);
  } finally {
    if (reaper) clearTimeout(reaper);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  return worstExitCode(
    codes.map((c) => c ?? 1),
    failedFirst,
  );
}

/** argv without the options a launcher sets itself for each rank (`--nproc`, `--threads`), in their spaced, `=` and short forms. */
export function withoutOptions(argv: readonly string[], options: readonly { long: string; short?: string }[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const o = options.find((x) => a === x.long || (x.short !== undefined && a === x.short));
    if (o) {
      i++; // its value
      continue;
    }
    if (options.some((x) => a.startsWith(`${x.long}=`))) continue;
    out.push(a);
  }
  return out;
}
