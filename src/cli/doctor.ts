import { availableParallelism } from 'node:os';
import { BACKEND_ORDER, type ConcreteBackend } from '../backends/select.js';

interface BackendReport {
  name: ConcreteBackend;
  available: boolean;
  why: string;
}

async function probeTensorflow(): Promise<BackendReport> {
  const reasons: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      const name = pkg;
      await import(name);
      return { name: 'tensorflow', available: true, why: `${pkg} loads` };
    } catch (e) {
      const err = e as Error & { code?: string };
      const missing = err.code === 'ERR_MODULE_NOT_FOUND' || /can not be found|Cannot find (module|package)/.test(err.message);
      reasons.push(`${pkg} ${missing ? 'not installed' : `fails to load: ${err.message.split('\n')[0].slice(0, 160)}`}`);
    }
  }
  return {
    name: 'tensorflow',
    available: false,
    why: `${reasons.join('; ')} (optional: their install downloads libtensorflow from a host this machine may not reach, and tfjs-node-gpu needs CUDA 11.2 + cuDNN 8.1)`,
  };
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
  const lines = ['backends (automatic order: tensorflow, torch, wasm, cpu):'];
  for (const r of reports) lines.push(`  ${r.name.padEnd(10)} ${r.available ? 'yes' : 'no '}  ${r.why}`);
  lines.push(`automatic choice: ${auto}`);
  const yesNo = (b: boolean) => (b ? 'yes' : 'no');
  lines.push(
    build
      ? `native build: libtorch ${build.libtorch} (${build.source}); CUDA ${yesNo(build.cuda)}, NCCL ${yesNo(build.nccl)}, Gloo ${yesNo(build.gloo)}, JPEG ${yesNo(build.jpeg)}`
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
