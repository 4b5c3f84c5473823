import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { BACKEND_ORDER, type ConcreteBackend } from '../backends/names.js';

/** Defines `pwlu doctor` and its options, so the flags sit beside the code that reads them. */
export function register(program: Command): void {
  program
    .command('doctor')
    .description('Report which backends work on this machine and why the others do not; libtorch, threads, CUDA.')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      await doctorCommand(opts);
    });
}

interface BackendReport {
  name: ConcreteBackend;
  available: boolean;
  why: string;
}

async function probeTensorflow(): Promise<BackendReport> {
  const { loadTensorflowPackage } = await import('../backends/select.js');
  const loaded = await loadTensorflowPackage();
  return loaded.ok ? { name: 'tensorflow', available: true, why: `${loaded.pkg} loads` } : { name: 'tensorflow', available: false, why: loaded.reason };
}

/** `pwlu doctor`: which backends work here and why the others do not; libtorch, threads, CUDA, torch.distributed, image decoder. */
export async function doctorCommand(opts: { json: boolean }): Promise<void> {
  const { torchAvailability } = await import('../backends/torch/index.js');
  const { readBuildInfo } = await import('../backends/torch/addon.js');
  const { nativeJpegDecoder } = await import('../data/stream/native-decoder.js');
  const { distSupport } = await import('../backends/torch/dist.js');
  const torch = torchAvailability();
  const distributed = distSupport();
  const native = nativeJpegDecoder();
  // The streaming pipeline decodes JPEGs natively when it can; sharp takes the other formats, and JPEGs otherwise.
  const imageDecoder = native.decoder
    ? { jpeg: 'libjpeg-turbo', why: native.reason, other: 'sharp' }
    : { jpeg: 'sharp', why: `fallback: ${native.reason}`, other: 'sharp' };
  const reports: BackendReport[] = [
    await probeTensorflow(),
    {
      name: 'torch',
      available: torch.available,
      why: torch.available && torch.libtorch ? `libtorch ${torch.libtorch.version} (${torch.libtorch.source}) at ${torch.libtorch.path}` : torch.reason,
    },
    { name: 'wasm', available: true, why: 'bundled (@tensorflow/tfjs-backend-wasm, single-threaded in Node)' },
    { name: 'cpu', available: true, why: 'bundled (@tensorflow/tfjs-backend-cpu, pure JS: very slow for convolutions)' },
  ];
  const auto = BACKEND_ORDER.find((b) => reports.find((r) => r.name === b)?.available) ?? 'cpu';
  const info = readBuildInfo();
  // What the native build compiled in (scripts/build-native.mjs's record), whether or not it loads here.
  const build = info
    ? {
        libtorch: info.version,
        source: info.source,
        cuda: info.cuda,
        nccl: info.dist?.backends?.includes('nccl') ?? false,
        gloo: info.dist?.backends?.includes('gloo') ?? false,
        jpeg: info.jpeg?.available ?? false,
        // 'routed': the build found oneDNN's 1x1 convolutions crashing here, and pwlu runs them another way.
        oneDnn1x1: info.oneDnn1x1 ? (info.oneDnn1x1.ok ? 'ok' : 'routed') : 'unchecked',
      }
    : null;
  const result = {
    build,
    backends: reports,
    auto,
    libtorch: torch.libtorch ?? null,
    cuda: torch.cuda ?? false,
    imageDecoder,
    distributed,
    // registerTorchBackend uses every core unless --threads says otherwise.
    threads: availableParallelism(),
    cores: availableParallelism(),
    node: process.versions.node,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const lines = [`backends (automatic order: ${BACKEND_ORDER.join(', ')}):`];
  for (const r of reports) lines.push(`  ${r.name.padEnd(10)} ${r.available ? 'yes' : 'no '}  ${r.why}`);
  lines.push(`automatic choice: ${auto}`);
  const yesNo = (b: boolean) => (b ? 'yes' : 'no');
  lines.push(
    build
      ? `native build: libtorch ${build.libtorch} (${build.source}); CUDA ${yesNo(build.cuda)}, NCCL ${yesNo(build.nccl)}, Gloo ${yesNo(build.gloo)}, JPEG ${yesNo(build.jpeg)}` +
          (build.oneDnn1x1 === 'routed' ? `; oneDNN's 1x1 convolutions crash on this CPU: routed around them (slower)` : '')
      : 'native build: none (see native/build/build.log; npm rebuild or node scripts/build-native.mjs builds it)',
  );
  lines.push(`threads: ${result.threads} (cores: ${result.cores}; set with --threads)`);
  lines.push(`CUDA: ${result.cuda ? 'available' : 'not available'}${torch.available ? '' : ' (needs the torch backend)'}`);
  lines.push(
    `torch.distributed: ${distributed.available ? `${distributed.backends.join(', ')} (data-parallel runs: torchrun, srun or pwlu train --nproc N)` : `not available (${distributed.reason}); data-parallel runs exit 3`}`,
  );
  lines.push(`image decoder: JPEG ${imageDecoder.jpeg} (${imageDecoder.why}); PNG/WebP ${imageDecoder.other}`);
  lines.push(`node: ${result.node}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
