import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport, writeReportFiles } from '../../src/report/index.js';
import { ExitCode } from '../../src/util/errors.js';
import { formatBytes, formatBytesExact } from '../../src/util/format.js';
import { IoError, TEMP_RE, tempDirPath, tempPath, writeFileAtomic } from '../../src/util/io.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-io-');
afterAll(() => removeDir(tmp));

function thrown(f: () => unknown): unknown {
  try {
    f();
    return null;
  } catch (e) {
    return e;
  }
}

describe('writeFileAtomic (src/util/io.ts)', () => {
  it('an atomic write that fails leaves the old file and no temp file, and names the path and size', () => {
    const dir = makeTmpDir('pwlu-atomic-');
    const p = join(dir, 'x.json');
    writeFileAtomic(p, 'old');
    // A directory in the way of the rename makes the last step fail after the data was written.
    const blocked = join(dir, 'blocked');
    mkdirSync(join(blocked, 'inner'), { recursive: true });
    const err = thrown(() => writeFileAtomic(blocked, 'new content'));
    expect(err).toBeInstanceOf(IoError);
    expect((err as IoError).exitCode).toBe(ExitCode.io);
    expect((err as Error).message).toContain(blocked);
    expect((err as Error).message).toMatch(/11 bytes/);
    expect(readFileSync(p, 'utf8')).toBe('old');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    removeDir(dir);
  });

  it("is the report's writer too: a failed report file is an IoError (exit 5), not a raw errno", () => {
    const dir = join(tmp, 'report');
    mkdirSync(join(dir, 'results.csv', 'inner'), { recursive: true });
    const err = thrown(() => writeReportFiles(dir, buildReport([], { resultsDir: dir, baseline: 'swish' })));
    expect(err).toBeInstanceOf(IoError);
    expect((err as Error).message).toContain(join(dir, 'results.csv'));
    expect(readdirSync(dir).filter((f) => TEMP_RE.test(f))).toEqual([]);
  });

  it('names temp files and directories so one pattern sweeps both', () => {
    expect(TEMP_RE.test(tempPath('/a/b/summary.json'))).toBe(true);
    const d = tempDirPath('/a/b/onnx');
    expect(d).toBe(`/a/b/.onnx.tmp-${process.pid}`);
    expect(TEMP_RE.test(d)).toBe(true);
  });
});

describe('formatBytes (src/util/format.ts)', () => {
  it('reads the same in bars, tables and errors; errors add the exact count', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytesExact(3 * 2 ** 30)).toBe('3.0 GiB (3221225472 bytes)');
    expect(formatBytesExact(11)).toBe('11 bytes');
    expect(formatBytesExact(1536)).toBe('1.5 KiB (1536 bytes)');
  });
});
