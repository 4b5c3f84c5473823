/**
 * Data-parallel training over torch.distributed, with PyTorch's DistributedDataParallel semantics:
 * rank 0's initial weights are broadcast, every rank trains on its own share of each epoch
 * (DistributedSampler, src/data/batches.ts), gradients are averaged in a few fused buckets each step,
 * evaluation is sharded and its counts summed. Statistics that must be global (SyncBatchNorm, PWLU's
 * phase-I statistics) ask `collectiveWorld()` (src/ops/collectives.ts), which this sets.
 *
 * Every collective is bounded by `dist.timeout_s`: a rank that died or hangs makes the others fail
 * with a BackendError (exit 3) naming this rank, never a silent hang.
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendChoice } from '../backends/select.js';
import { destroyProcessGroup, initProcessGroup } from '../backends/torch/dist.js';
import type { Config, DistConfig } from '../config/schema.js';
import type { RankShard } from '../data/batches.js';
import { distEnvFrom, type DistEnv } from '../distributed/env.js';
import { launchLocal, withoutOptions } from '../distributed/launch.js';
import { allReduce, broadcast, setCollectiveWorld } from '../ops/collectives.js';
import { BackendError, UserError } from '../util/errors.js';
import type { GradientReducer } from './step.js';

/** Longest string broadcastString carries (a run directory's path). */
const MAX_STRING = 4096;

/** This process's place in a data-parallel run, and the collectives the trainer needs. */
export class DataParallel {
  readonly isMain: boolean;
  private readonly bucketBytes: number;

  private constructor(
    readonly env: DistEnv,
    readonly backend: 'gloo' | 'nccl',
    private readonly cfg: DistConfig,
  ) {
    this.isMain = env.rank === 0;
    this.bucketBytes = Math.round(cfg.bucket_mb * 1024 * 1024);
  }

  /** Joins the group the launcher described (blocks until every rank has, within dist.timeout_s). */
  static join(env: DistEnv, cfg: DistConfig, opts: { device: 'cpu' | 'cuda'; syncBatchNorm: boolean }): DataParallel {
    const backend = cfg.backend === 'auto' ? (opts.device === 'cuda' ? 'nccl' : 'gloo') : cfg.backend;
    if (backend === 'nccl' && opts.device !== 'cuda')
      throw new BackendError(`dist.backend 'nccl' needs the torch backend on CUDA; this run is on the ${opts.device} (use gloo)`);
    try {
      initProcessGroup({
        rank: env.rank,
        worldSize: env.worldSize,
        masterAddr: env.masterAddr,
        masterPort: env.masterPort,
        backend,
        timeoutS: cfg.timeout_s,
        agentStore: env.agentStore,
      });
    } catch (e) {
      throw new BackendError(
        `rank ${env.rank} of ${env.worldSize} (${env.launcher}) could not join the process group at ${env.masterAddr}:${env.masterPort}: ${(e as Error).message}`,
      );
    }
    setCollectiveWorld({ worldSize: env.worldSize, syncBatchNorm: opts.syncBatchNorm });
    return new DataParallel(env, backend, cfg);
  }

  get rank(): number {
    return this.env.rank;
  }

  get worldSize(): number {
    return this.env.worldSize;
  }

  /** This rank's share of an epoch: padded for training, not for evaluation. */
  shard(pad: boolean): RankShard {
    return { rank: this.rank, worldSize: this.worldSize, pad };
  }

  /** Runs a collective, turning its failure into a BackendError (exit 3). */
  private collective<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      const msg = (e as Error).message.replace(/^torch: /, '');
      throw new BackendError(`distributed ${what}: ${msg}`);
    }
  }

  /** Rank 0's string on every rank (the run directory a default --out names with a timestamp); null on rank 0 means it failed. */
  broadcastString(s: string | null): string | null {
    const bytes = new Float32Array(MAX_STRING + 1);
    if (this.isMain) {
      const enc = Buffer.from(s ?? '', 'utf8');
      if (enc.length > MAX_STRING) throw new BackendError(`a broadcast string is longer than ${MAX_STRING} bytes`);
      bytes[0] = s === null ? -1 : enc.length;
      enc.forEach((b, i) => (bytes[i + 1] = b));
    }
    const out = this.collective('broadcast', () => tf.tidy(() => broadcast([tf.tensor1d(bytes)], 0)[0]!.dataSync()));
    if (out[0]! < 0) return null;
    return Buffer.from(Array.from(out.subarray(1, 1 + out[0]!))).toString('utf8');
  }

  /** Every rank starts from rank 0's weights (all of them: BN running statistics and activation state too). */
  broadcastWeights(vars: readonly tf.Variable[]): void {
    this.collective('broadcast of the initial weights', () =>
      tf.tidy(() => {
        const got = broadcast(vars, 0);
        vars.forEach((v, i) => v.assign(got[i]!));
      }),
    );
  }

  /**
   * The step's gradient reducer: averages the gradients over every rank in fused buckets (in place),
   * and sums the step's figures (loss, top-1 count, images, stop requests) in the same call, so every
   * rank reports the global figures and stops after the same step.
   */
  readonly reduceStep: GradientReducer = (grads, figures) => {
    const names = Object.keys(grads);
    const reduced = this.collective('gradient allreduce', () =>
      allReduce([...names.map((n) => grads[n]!), figures], { average: true, bucketBytes: this.bucketBytes }),
    );
    names.forEach((n, i) => (grads[n] = reduced[i]!));
    return tf.mul(reduced[names.length]!, this.worldSize) as tf.Tensor1D;
  };

  /** Sums of plain numbers over every rank (evaluation counts, an epoch's training sums). */
  sum(values: readonly number[]): number[] {
    return this.collective('sum', () =>
      tf.tidy(() => Array.from(allReduce([tf.tensor1d(Float32Array.from(values))], { average: false, bucketBytes: this.bucketBytes })[0]!.dataSync())),
    );
  }

  /**
   * Fails loudly when the ranks' weights have drifted apart (they must stay identical): every
   * `dist.check_every` steps, compares a checksum of every weight with rank 0's.
   */
  checkConsistency(vars: readonly tf.Variable[], step: number): void {
    if (this.cfg.check_every <= 0 || step % this.cfg.check_every !== 0) return;
    const local = tf.tidy(() => vars.map((v, i) => tf.sum(tf.mul(v, (i % 7) + 1)).dataSync()[0]!));
    const root = this.collective('consistency check', () => tf.tidy(() => Array.from(broadcast([tf.tensor1d(local)], 0)[0]!.dataSync())));
    const bad = local.findIndex((c, i) => Math.abs(c - root[i]!) > 1e-6 * Math.max(1, Math.abs(root[i]!)));
    // Every rank learns whether any diverged, so they all stop together.
    const anyBad = this.sum([bad >= 0 ? 1 : 0])[0]! > 0;
    if (anyBad) {
      const which = bad >= 0 ? `: weight ${vars[bad]!.name} is ${local[bad]} here, ${root[bad]} on rank 0` : ' on another rank';
      throw new BackendError(
        `distributed consistency check at step ${step}: the ranks' weights differ${which} (rank ${this.rank} of ${this.worldSize}); a rank has diverged`,
      );
    }
  }

  /** Leaves the group; the process's statistics are local again. */
  leave(): void {
    setCollectiveWorld(null);
    destroyProcessGroup();
  }
}

/**
 * This rank's torch backend (on its local GPU when CUDA is used) and the joined process group, for
 * `pwlu train` and `pwlu speed` alike: a data-parallel run needs the torch backend, since c10d's
 * collectives live in its addon. `what` names the run in the refusal (e.g. "a data-parallel run").
 */
export async function joinDataParallel(
  env: DistEnv,
  config: Pick<Config, 'backend' | 'threads' | 'device' | 'dist'>,
  opts: { syncBatchNorm: boolean; what: string },
): Promise<{ backend: BackendChoice; dp: DataParallel }> {
  if (config.backend !== 'auto' && config.backend !== 'torch') {
    throw new BackendError(
      `${opts.what} (${env.launcher}, ${env.worldSize} ranks) needs the torch backend: its collectives are in the native addon; backend is '${config.backend}'`,
    );
  }
  const backend = await selectBackend('torch', { threads: config.threads, device: config.device, cudaIndex: env.localRank });
  const device = backend.detail.device === 'cuda' ? 'cuda' : 'cpu';
  return { backend, dp: DataParallel.join(env, config.dist, { device, syncBatchNorm: opts.syncBatchNorm }) };
}

/**
 * `--nproc N` (train, speed): re-runs this command as N local ranks of one data-parallel run, without
 * --nproc and --threads (`threads`, the run's total, is split between the ranks), and returns the run's
 * exit code. Refused inside a launcher's rank, where the launcher has started the ranks already.
 */
export async function relaunchAsRanks(o: { nproc: number; threads: number }): Promise<number> {
  if (distEnvFrom(process.env)) {
    throw new UserError(`--nproc ${o.nproc} inside a launcher's rank (WORLD_SIZE or SLURM_NTASKS is set): let the launcher start the ranks, or drop --nproc`);
  }
  const args = withoutOptions(process.argv.slice(2), [{ long: '--nproc' }, { long: '--threads', short: '-t' }]);
  return launchLocal({ nproc: o.nproc, args, threads: o.threads });
}
