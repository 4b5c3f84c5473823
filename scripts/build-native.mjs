#!/usr/bin/env node
// Builds the optional native `torch` backend (native/ → native/build/Release/pwlu_torch.node).
//
// libtorch is looked up in this order:
//   1. $LIBTORCH            a libtorch directory with include/ and lib/ (the pytorch.org zip);
//   2. a PyTorch install     `python3` then `/usr/bin/python3`: torch/include + torch/lib (pip layout,
//                            CUDA builds included; the C++ ABI flag is taken from torch itself);
//   3. Debian libtorch-dev   /usr/include/ATen/ATen.h + libtorch.so in the multiarch lib dir.
// Never fails the install: when libtorch is missing or the build breaks, says so plainly
// (`[pwlu] native torch backend NOT built: <why>`, details in native/build/build.log) and exits 0, unless
// PWLU_REQUIRE names native (or jpeg, dist for those parts): then it exits 1. CI sets it.
// The addon also carries the input pipeline's JPEG decoder (native/src/ops_jpeg.cc) when libjpeg-turbo's
// libjpeg API is there (Debian libjpeg62-turbo-dev); without it the addon is built without that path and
// says why (jpegInfo()), and pwlu decodes images with sharp.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { parseScriptArgs } from './lib/args.mjs';

parseScriptArgs({
  description: `Builds the optional native 'torch' backend (native/ -> native/build/Release/pwlu_torch.node); \`npm install\`
runs it. libtorch comes from $LIBTORCH, else a PyTorch install (python3, then /usr/bin/python3), else Debian's
libtorch-dev. Never fails: without libtorch, or when the build breaks, it prints why and exits 0 (details in
native/build/build.log), unless PWLU_REQUIRE=native (or jpeg, dist, all) says that part must be built: then it exits 1. The JPEG decoder of the input pipeline is compiled in when libjpeg-turbo is installed
(Debian libjpeg62-turbo-dev). Environment: LIBTORCH=DIR, JOBS=N (parallel compile jobs), PWLU_SKIP_NATIVE=1
(skip), PWLU_SKIP_JPEG=1 (build without the JPEG decoder), PWLU_SKIP_DIST=1 (build without torch.distributed),
PWLU_PYTHON=PATH (the Python whose torch to build against, tried first), PWLU_NODE_GYP=FILE (node-gyp's bin/node-gyp.js
where npm is absent).`,
  options: {},
});

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
const buildDir = path.join(nativeDir, 'build');
const logFile = path.join(buildDir, 'build.log');
const addonFile = path.join(buildDir, 'Release', 'pwlu_torch.node');
const infoFile = path.join(buildDir, 'libtorch.json');
const started = Date.now();
const logLines = [];

function log(line) {
  logLines.push(line);
}
function flushLog() {
  fs.mkdirSync(buildDir, { recursive: true });
  fs.writeFileSync(logFile, logLines.join('\n') + '\n');
}
function skip(why) {
  log(`skipped: ${why}`);
  flushLog();
  // Leave no stale addon behind: "skipped" must mean the backend is unavailable.
  for (const f of [infoFile, addonFile]) {
    try {
      fs.rmSync(f, { force: true });
    } catch {
      /* ignore */
    }
  }
  // Plain words, on stderr too: npm shows a root package's install output, and this is what decides pwlu's speed.
  const text = [
    `[pwlu] native torch backend NOT built: ${why}`,
    "[pwlu] pwlu still works, on the 'wasm' backend, about 10x slower. `npx pwlu doctor` says what is missing;",
    '[pwlu] once it is fixed, `npm run build:native` builds the backend.',
  ].join('\n');
  console.error(text);
  if (required('native')) {
    console.error('[pwlu] PWLU_REQUIRE names native: failing the install.');
    process.exit(1);
  }
  process.exit(0);
}
/** Whether PWLU_REQUIRE (CI sets it) names this part or all: then its absence fails the build instead of a skip. */
function required(part) {
  const names = (process.env.PWLU_REQUIRE ?? '').split(',').map((x) => x.trim());
  return names.includes(part) || names.includes('all');
}
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { status: r.status ?? -1, signal: r.signal, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}
const exists = (p) => {
  try {
    fs.accessSync(p);
    return true;
  } catch {
    return false;
  }
};

function versionFromHeader(includeDir) {
  // Newer libtorch (2.14 here, not 2.6) keeps the numbers in torch/headeronly/version.h, which the old file includes.
  for (const h of [path.join(includeDir, 'torch', 'headeronly', 'version.h'), path.join(includeDir, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h')]) {
    if (!exists(h)) continue;
    const src = fs.readFileSync(h, 'utf8');
    const m = (k) => src.match(new RegExp(`#define TORCH_VERSION_${k}\\s+(\\d+)`))?.[1];
    if (m('MAJOR')) return `${m('MAJOR')}.${m('MINOR')}.${m('PATCH')}`;
  }
  return 'unknown';
}

/** The C++ standard this libtorch's headers need: C++20 where ATen.h demands it (2.14 here, not 2.6), else C++17. */
function cxxStandard(includeDir) {
  const h = path.join(includeDir, 'ATen', 'ATen.h');
  return exists(h) && /C\+\+20 or later/.test(fs.readFileSync(h, 'utf8')) ? 'c++20' : 'c++17';
}

/** The C++11 ABI libc10 was built with: 1 when its symbols use std::__cxx11 strings. */
function abiFromLibrary(libDir) {
  const lib = path.join(libDir, 'libc10.so');
  const r = run('nm', ['-D', '--defined-only', lib]);
  if (r.status !== 0) return 1;
  return /__cxx11/.test(r.out) ? 1 : 0;
}

function describe(source, includeDir, libDir, extra = {}) {
  const cuda = exists(path.join(libDir, 'libtorch_cuda.so')) || exists(path.join(libDir, 'libc10_cuda.so'));
  return {
    source,
    path: path.dirname(includeDir) === path.dirname(libDir) ? path.dirname(includeDir) : libDir,
    includeDirs: [includeDir, path.join(includeDir, 'torch', 'csrc', 'api', 'include')],
    libDir,
    version: extra.version ?? versionFromHeader(includeDir),
    cxxStd: cxxStandard(includeDir),
    cuda,
    cxx11abi: extra.cxx11abi ?? abiFromLibrary(libDir),
  };
}

function fromEnv() {
  const dir = process.env.LIBTORCH;
  if (!dir) return null;
  const inc = path.join(dir, 'include');
  const lib = path.join(dir, 'lib');
  if (!exists(path.join(inc, 'ATen', 'ATen.h')) || !exists(path.join(lib, 'libtorch.so'))) {
    log(`LIBTORCH=${dir}: no include/ATen/ATen.h + lib/libtorch.so there, ignored`);
    return null;
  }
  return describe('LIBTORCH', inc, lib);
}

function fromPython() {
  const code =
    'import torch,os;print(os.path.dirname(torch.__file__));print(torch.__version__);' + 'print(int(getattr(torch._C,"_GLIBCXX_USE_CXX11_ABI",True)))';
  const pythons = [process.env.PWLU_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean);
  for (const py of pythons) {
    const r = run(py, ['-c', code]);
    if (r.status !== 0) {
      log(`${py}: no torch (${r.error ? r.error.message : r.out.trim().split('\n').pop()})`);
      continue;
    }
    const [dir, version, abi] = r.out.trim().split('\n').slice(-3);
    const inc = path.join(dir, 'include');
    const lib = path.join(dir, 'lib');
    if (!exists(path.join(inc, 'ATen', 'ATen.h')) || !exists(path.join(lib, 'libtorch.so'))) {
      log(`${py}: torch at ${dir} has no include/ + lib/ (headers not shipped), ignored`);
      continue;
    }
    const found = describe(`python (${py})`, inc, lib, { version, cxx11abi: Number(abi) });
    // CUDA wheels keep the CUDA runtime and NCCL headers (which ProcessGroupNCCL.hpp and ATen/cuda include) in
    // site-packages/nvidia/<part>/include (or nvidia/<cuXY>/include); a system CUDA toolkit in /usr/local/cuda.
    if (found.cuda) {
      const nv = path.join(path.dirname(dir), 'nvidia');
      const subs = exists(nv) ? fs.readdirSync(nv).map((d) => path.join(nv, d, 'include')) : [];
      for (const d of [...subs, '/usr/local/cuda/include']) if (exists(d)) found.includeDirs.push(d);
    }
    return found;
  }
  return null;
}

function fromDebian() {
  const multiarch = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', ppc64: 'powerpc64le-linux-gnu' }[process.arch];
  const inc = '/usr/include';
  const lib = `/usr/lib/${multiarch ?? ''}`;
  if (!multiarch || !exists(path.join(inc, 'ATen', 'ATen.h')) || !exists(path.join(lib, 'libtorch.so'))) {
    log('Debian libtorch-dev: /usr/include/ATen/ATen.h or libtorch.so not found');
    return null;
  }
  return describe('debian libtorch-dev', inc, lib);
}

/**
 * Whether libjpeg-turbo's libjpeg API (with jpeg_crop_scanline and jpeg_skip_scanlines) compiles and links here:
 * { ok: true } or { ok: false, why }.
 */
function probeJpeg() {
  if (process.env.PWLU_SKIP_JPEG === '1') return { ok: false, why: 'PWLU_SKIP_JPEG=1' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pwlu-jpeg-probe-'));
  try {
    const src = path.join(dir, 'probe.cc');
    fs.writeFileSync(
      src,
      '#include <cstdio>\n#include <jpeglib.h>\nint main() { jpeg_decompress_struct c; jpeg_error_mgr e; c.err = jpeg_std_error(&e);\n' +
        '  jpeg_create_decompress(&c); JDIMENSION x = 0, w = 0; if (c.global_state < 0) { jpeg_crop_scanline(&c, &x, &w);\n' +
        '  jpeg_skip_scanlines(&c, 1); } jpeg_destroy_decompress(&c); return 0; }\n',
    );
    const r = run(process.env.CXX || 'c++', [src, '-o', path.join(dir, 'probe'), '-ljpeg']);
    log(`libjpeg-turbo probe: ${r.status === 0 ? 'ok' : r.error ? r.error.message : r.out.trim()}`);
    if (r.status === 0) return { ok: true };
    const missing = /jpeglib\.h: No such file|cannot find -ljpeg/.test(r.out);
    return {
      ok: false,
      why: missing
        ? 'libjpeg-turbo not installed (apt-get install libjpeg62-turbo-dev)'
        : 'libjpeg without jpeg_crop_scanline/jpeg_skip_scanlines (needs libjpeg-turbo >= 1.5: apt-get install libjpeg62-turbo-dev)',
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Whether torch.distributed's C++ engine (c10d: TCPStore + ProcessGroupGloo, and ProcessGroupNCCL in CUDA
 * builds) compiles and links against this libtorch: { gloo, nccl, why }. Gloo's headers are not part of
 * Debian's libtorch-dev (they are in libgloo-dev).
 */
function probeC10d(torch, libs) {
  if (process.env.PWLU_SKIP_DIST === '1') return { gloo: false, nccl: false, why: 'PWLU_SKIP_DIST=1' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pwlu-c10d-probe-'));
  const compile = (defines, body) => {
    const src = path.join(dir, 'probe.cc');
    fs.writeFileSync(src, body);
    const args = [src, '-o', path.join(dir, 'probe'), `-std=${torch.cxxStd}`, `-D_GLIBCXX_USE_CXX11_ABI=${torch.cxx11abi}`, ...defines.map((d) => `-D${d}`)];
    for (const d of torch.includeDirs) args.push('-I', d);
    args.push(`-L${torch.libDir}`, `-Wl,-rpath,${torch.libDir}`, ...libs);
    return run(process.env.CXX || 'c++', args);
  };
  try {
    const gloo = compile(
      ['USE_C10D_GLOO'],
      '#include <torch/csrc/distributed/c10d/TCPStore.hpp>\n#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>\n' +
        'int main(int argc, char**) { if (argc > 5) { c10d::TCPStoreOptions o; auto s = c10::make_intrusive<c10d::TCPStore>("h", o);\n' +
        '  auto opts = c10d::ProcessGroupGloo::Options::create(); opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());\n' +
        '  c10d::ProcessGroupGloo pg(s, 0, 1, opts); } return 0; }\n',
    );
    log(`c10d gloo probe: ${gloo.status === 0 ? 'ok' : gloo.error ? gloo.error.message : gloo.out.trim().split('\n').slice(0, 8).join(' | ')}`);
    if (gloo.status !== 0) {
      const why = /gloo\/[a-z_/]+\.h: No such file/.test(gloo.out)
        ? "gloo's headers are missing (apt-get install libgloo-dev)"
        : /c10d\/[A-Za-z]+\.hpp: No such file/.test(gloo.out)
          ? 'this libtorch has no torch.distributed (c10d) headers'
          : 'c10d (ProcessGroupGloo, TCPStore) does not compile or link against this libtorch (see native/build/build.log)';
      return { gloo: false, nccl: false, why };
    }
    if (!torch.cuda) return { gloo: true, nccl: false, why: '' };
    const nccl = compile(
      ['USE_C10D_GLOO', 'USE_C10D_NCCL'],
      '#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>\nint main(int argc, char**) { if (argc > 5) { auto o = c10d::ProcessGroupNCCL::Options::create(); (void)o; } return 0; }\n',
    );
    log(`c10d nccl probe: ${nccl.status === 0 ? 'ok' : nccl.out.trim().split('\n').slice(0, 8).join(' | ')}`);
    return { gloo: true, nccl: nccl.status === 0, why: '' };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function findNodeGyp() {
  // PWLU_NODE_GYP: node-gyp's bin/node-gyp.js, for a machine without npm (scripts/gpu-check.sh --pack ships one).
  if (process.env.PWLU_NODE_GYP) return [process.execPath, [process.env.PWLU_NODE_GYP]];
  const candidates = [];
  const prefix = path.dirname(path.dirname(process.execPath));
  const r = run('npm', ['root', '-g']);
  if (r.status === 0) candidates.push(path.join(r.out.trim(), 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  for (const c of candidates) if (exists(c)) return [process.execPath, [c]];
  // From npm scripts node-gyp is on PATH.
  const w = run('node-gyp', ['--version']);
  if (w.status === 0) return ['node-gyp', []];
  return null;
}

// ---------------------------------------------------------------------------------------------
if (process.env.PWLU_SKIP_NATIVE === '1') {
  // Asked for (CI installs first and builds in a step of its own): not a failure, whatever PWLU_REQUIRE says.
  console.log('[pwlu] native torch backend: build skipped (PWLU_SKIP_NATIVE=1); `npm run build:native` builds it');
  process.exit(0);
}
fs.mkdirSync(buildDir, { recursive: true });
log(`pwlu native build ${new Date().toISOString()} node ${process.version} ${process.platform}-${process.arch}`);
if (process.platform !== 'linux' && process.platform !== 'darwin') skip(`unsupported platform ${process.platform}`);

const torch = fromEnv() ?? fromPython() ?? fromDebian();
if (!torch) skip('no libtorch found (set LIBTORCH, install PyTorch for python3, or apt-get install libtorch-dev)');
log(`libtorch: ${JSON.stringify(torch)}`);

const gyp = findNodeGyp();
if (!gyp) skip('node-gyp not found (it ships with npm)');

let napiInclude;
try {
  napiInclude = JSON.parse(createRequire(path.join(root, 'package.json'))('node-addon-api').include);
} catch (e) {
  skip(`node-addon-api not installed (${e.message})`);
}

const libs = ['-ltorch', '-ltorch_cpu', '-lc10'];
if (torch.cuda) {
  for (const l of ['torch_cuda', 'c10_cuda']) if (exists(path.join(torch.libDir, `lib${l}.so`))) libs.push(`-l${l}`);
}
// native/src/ops_jpeg.cc includes build/jpeg_config.h: only that file recompiles when the answer changes.
const jpeg = probeJpeg();
if (!jpeg.ok && required('jpeg')) skip(`PWLU_REQUIRE names jpeg, but the JPEG decoder cannot be built: ${jpeg.why}`);
if (jpeg.ok) libs.push('-ljpeg');
const jpegConfig =
  '// Written by scripts/build-native.mjs: whether the JPEG decoder (ops_jpeg.cc) is compiled in, and why not.\n' +
  `#define PWLU_WITH_JPEG ${jpeg.ok ? 1 : 0}\n#define PWLU_JPEG_UNAVAILABLE ${JSON.stringify(jpeg.ok ? '' : jpeg.why)}\n`;
const jpegConfigFile = path.join(buildDir, 'jpeg_config.h');
if (!exists(jpegConfigFile) || fs.readFileSync(jpegConfigFile, 'utf8') !== jpegConfig) fs.writeFileSync(jpegConfigFile, jpegConfig);
// native/src/dist.cc includes build/dist_config.h, as ops_jpeg.cc does jpeg_config.h.
const c10d = probeC10d(torch, libs);
if (!c10d.gloo && required('dist')) skip(`PWLU_REQUIRE names dist, but torch.distributed cannot be built: ${c10d.why}`);
const distConfig =
  '// Written by scripts/build-native.mjs: whether torch.distributed (c10d) is compiled in (dist.cc), and why not.\n' +
  `#define PWLU_WITH_C10D ${c10d.gloo ? 1 : 0}\n#define PWLU_WITH_NCCL ${c10d.nccl ? 1 : 0}\n#define PWLU_C10D_UNAVAILABLE ${JSON.stringify(c10d.why)}\n`;
const distConfigFile = path.join(buildDir, 'dist_config.h');
if (!exists(distConfigFile) || fs.readFileSync(distConfigFile, 'utf8') !== distConfig) fs.writeFileSync(distConfigFile, distConfig);
const defines = [`_GLIBCXX_USE_CXX11_ABI=${torch.cxx11abi}`, torch.cuda ? 'PWLU_WITH_CUDA=1' : 'PWLU_WITH_CUDA=0'];
if (c10d.gloo) defines.push('USE_C10D_GLOO');
if (c10d.nccl) defines.push('USE_C10D_NCCL');
const env = {
  ...process.env,
  PWLU_TORCH_INCLUDES: [...torch.includeDirs, napiInclude].join(' '),
  PWLU_TORCH_LIBDIR: torch.libDir,
  PWLU_TORCH_LIBS: libs.join(' '),
  PWLU_TORCH_DEFINES: defines.join(' '),
  PWLU_CXX_STD: torch.cxxStd,
};
const common = ['--directory', nativeDir];
// Local node headers: without --nodedir node-gyp would try to download them (fails offline).
const nodePrefix = path.dirname(path.dirname(process.execPath));
// The running node's own headers first; a node-API addon needs only node_api.h and node-gyp's common.gypi from there
// (a pruned copy, as scripts/gpu-check.sh --pack makes, is enough).
const nodedir = [nodePrefix, '/usr'].find(
  (d) => exists(path.join(d, 'include', 'node', 'node_api.h')) && exists(path.join(d, 'include', 'node', 'common.gypi')),
);
if (nodedir) common.push(`--nodedir=${nodedir}`);
const jobs = process.env.JOBS ?? String(Math.max(1, os.availableParallelism()));

const [cmd, pre] = gyp;
const conf = run(cmd, [...pre, 'configure', ...common], { env, cwd: nativeDir });
log(`$ node-gyp configure ${common.join(' ')}\n${conf.out}`);
if (conf.status !== 0) skip(`node-gyp configure failed (see ${path.relative(root, logFile)})`);
const build = run(cmd, [...pre, 'build', ...common, '--jobs', jobs], { env, cwd: nativeDir });
log(`$ node-gyp build --jobs ${jobs}\n${build.out}`);
if (build.status !== 0 || !exists(addonFile)) {
  const lines = build.out.split('\n');
  const err = (lines.find((l) => /\berror:/.test(l)) ?? lines.find((l) => /error/i.test(l)))?.trim();
  skip(`compile failed${err ? `: ${err.slice(0, 160)}` : ''} (see ${path.relative(root, logFile)})`);
}

// Load it once in a child process: catches a missing .so or a C++ ABI mismatch now, not later.
const probe = run(process.execPath, ['-e', `const a=require(${JSON.stringify(addonFile)});console.log(a.version())`]);
log(`load probe: ${probe.out.trim()}`);
if (probe.status !== 0) {
  const why =
    probe.out
      .split('\n')
      .find((l) => /Error|undefined symbol|cannot open/i.test(l))
      ?.trim() ?? 'see log';
  skip(`built but cannot be loaded: ${why.slice(0, 200)}`);
}

// Debian 13's oneDNN crashes in its 1x1 convolution kernels on some CPUs (native/src/ops_nn.cc, g_route_1x1). A crash
// cannot be caught in-process, so a child runs them; glibc's malloc checks, where present, make a corrupted heap abort.
const mallocDebug = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu']
  .map((d) => path.join(d, 'libc_malloc_debug.so.0'))
  .find((f) => exists(f));
// A crash can also hang (UCX's signal handler, loaded with Debian 13's libtorch, deadlocks in free()): 2 minutes at most.
const conv1x1 = run(process.execPath, ['-e', `require(${JSON.stringify(addonFile)}).probeConv1x1()`], {
  timeout: 120_000,
  env: { ...process.env, ...(mallocDebug ? { LD_PRELOAD: mallocDebug, GLIBC_TUNABLES: 'glibc.malloc.check=3' } : {}) },
});
const oneDnn1x1 =
  conv1x1.status === 0
    ? { ok: true }
    : {
        ok: false,
        reason: `a child running oneDNN's 1x1 convolutions died (${conv1x1.signal ?? `exit ${conv1x1.status}`}); pwlu routes them around oneDNN's 1x1 kernels`,
      };
log(`oneDNN 1x1 probe: ${oneDnn1x1.ok ? 'ok' : oneDnn1x1.reason}\n${conv1x1.out.trim().slice(-2000)}`);

const info = {
  path: torch.path,
  libDir: torch.libDir,
  version: torch.version,
  cuda: torch.cuda,
  source: torch.source,
  cxx11abi: torch.cxx11abi,
  addon: path.relative(root, addonFile),
  jpeg: jpeg.ok ? { available: true } : { available: false, reason: jpeg.why },
  oneDnn1x1,
  dist: c10d.gloo ? { available: true, backends: c10d.nccl ? ['gloo', 'nccl'] : ['gloo'] } : { available: false, reason: c10d.why },
  builtAt: new Date().toISOString(),
  buildSeconds: Math.round((Date.now() - started) / 100) / 10,
};
fs.writeFileSync(infoFile, JSON.stringify(info, null, 2) + '\n');
log(`ok in ${info.buildSeconds}s`);
flushLog();
console.log(
  `[pwlu] native torch backend built against libtorch ${torch.version} (${torch.source}) in ${info.buildSeconds}s; ` +
    (jpeg.ok ? 'JPEG decoder: libjpeg-turbo' : `JPEG decoder skipped: ${jpeg.why}`) +
    (c10d.gloo ? `; torch.distributed: ${c10d.nccl ? 'gloo, nccl' : 'gloo'}` : `; torch.distributed skipped: ${c10d.why}`),
);
