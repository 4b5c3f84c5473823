/** Temporary directories of the tests: one way to make them, one way to remove them. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary directory (the prefix says which test left it, should one survive); remove it with `removeDir`. */
export function makeTmpDir(prefix = 'pwlu-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Recursively deletes a directory (ignores absence). */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
