/**
 * Exclusive locks on run directories and bench folders: one process trains in a directory at a
 * time. The lock is a file created with O_EXCL holding the owner's pid and host. A lock whose owner
 * is gone (same host: the pid is dead or is no longer pwlu; another host: not refreshed for
 * STALE_MS) is stale and taken over, so a crash or kill -9 never blocks a resume.
 */
import { closeSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { UserError } from '../util/errors.js';
import { ioError } from '../util/io.js';

/** What a lock file holds. */
export interface LockOwner {
  pid: number;
  host: string;
  started: string;
  /** What holds it, e.g. "pwlu train" (shown to whoever finds it locked). */
  what: string;
}

/** Another host's lock not refreshed for this long is taken to be left by a dead machine. */
export const STALE_MS = 30 * 60 * 1000;
const REFRESH_MS = 60 * 1000;

/** Whether a process with this pid exists on this host. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's command line on this host (Linux), or null where it cannot be read. */
export function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return null;
  }
}

function readOwner(path: string): LockOwner | null {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    return typeof o.pid === 'number' && typeof o.host === 'string'
      ? { pid: o.pid, host: o.host, started: String(o.started ?? '?'), what: String(o.what ?? 'pwlu') }
      : null;
  } catch {
    return null; // torn or foreign: treated as stale
  }
}

/** Why the lock's owner is gone, or null while it may still be working. */
function staleReason(path: string, owner: LockOwner | null): string | null {
  if (owner === null) return 'unreadable lock file';
  if (owner.host === hostname()) {
    if (owner.pid === process.pid) return null;
    if (!processAlive(owner.pid)) return `pid ${owner.pid} is gone`;
    const cl = commandLine(owner.pid);
    if (cl !== null && !cl.includes('pwlu')) return `pid ${owner.pid} is no longer pwlu`;
    return null;
  }
  try {
    const age = Date.now() - statSync(path).mtimeMs;
    return age > STALE_MS ? `not refreshed for ${Math.round(age / 60000)} min` : null;
  } catch {
    return 'vanished';
  }
}

/** A held lock; release() is idempotent and also runs when the process exits. */
export interface Lock {
  readonly path: string;
  release(): void;
}

/**
 * Takes the lock file at `path` for `what`, or throws a UserError naming the live owner. A stale
 * lock is taken over (`onStale` says why).
 */
export function acquireLock(path: string, what: string, onStale: (why: string) => void = () => {}): Lock {
  const owner: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString(), what };
  const text = `${JSON.stringify(owner)}\n`;
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 2) throw ioError(e, path, text.length);
      const held = readOwner(path);
      const why = staleReason(path, held);
      if (why === null) {
        const who = held ? `${held.what} (pid ${held.pid} on ${held.host}, since ${held.started})` : 'another process';
        throw new UserError(
          `${path}: in use by ${who}; wait for it to end or stop it${held && held.host === hostname() ? ` (kill -INT ${held.pid})` : ''}. If that process is gone for good, delete ${path}`,
        );
      }
      onStale(`taking over a stale lock ${path} (${why})`);
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    break;
  }
  const refresh = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(path, now, now);
    } catch {
      // the directory went away: nothing to keep fresh
    }
  }, REFRESH_MS);
  refresh.unref();
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    clearInterval(refresh);
    process.off('exit', release);
    if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
  };
  process.on('exit', release);
  return { path, release };
}

/** The live owner of the lock at `path`, or null when it is free or stale (for bench cells' state). */
export function lockOwner(path: string): LockOwner | null {
  const owner = readOwner(path);
  if (owner === null) return null;
  return staleReason(path, owner) === null ? owner : null;
}
