import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect } from 'vitest';
import { UserError } from '../../src/util/errors.js';
import { makeTmpDir, removeDir } from './tmp-dir.js';

/** Path of a checked-in fixture under test/fixtures/config/. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/config/${name}`, import.meta.url));
}

/** A per-file temp dir, removed after the file's tests; `write` returns the path of a new config file in it. */
export function tempConfigs(): { write: (name: string, text: string) => string; dir: string } {
  const dir = makeTmpDir('pwlu-config-');
  afterAll(() => removeDir(dir));
  return {
    dir,
    write(name, text) {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    },
  };
}

/** Runs `fn`, asserts it throws a config `UserError` (exit code 1, no stack needed), and returns the message. */
export function userErrorOf(fn: () => unknown): string {
  let caught: unknown = null;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(UserError);
  const err = caught as UserError;
  expect(err.exitCode).toBe(1);
  return err.message;
}
