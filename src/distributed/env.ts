/**
 * Where this process stands in a data-parallel run, read from the launcher's environment the way
 * PyTorch's workers read it: torchrun (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
 * MASTER_PORT), Slurm's srun (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, the first node of the job as
 * master), or `pwlu train --nproc` (which sets torchrun's variables and PWLU_LAUNCHER=pwlu).
 */
import { BackendError } from '../util/errors.js';

/** A rank's place in the run and the rendezvous address. */
export interface DistEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  launcher: 'torchrun' | 'slurm' | 'pwlu';
  /** torchrun's static rendezvous: its agent already serves the store at MASTER_ADDR:MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE). */
  agentStore: boolean;
}

/** The first host of a Slurm node list: `node01`, `node[01-04,07]`, `gpu-a[1-2],gpu-b3`, `host1,host2`. */
export function firstSlurmHost(list: string): string {
  const m = /^([^,[]+)(?:\[([^\]]+)\])?/.exec(list.trim());
  if (!m || !m[1]) throw new BackendError(`SLURM_JOB_NODELIST '${list}' is not a Slurm node list`);
  if (!m[2]) return m[1];
  const first = m[2].split(',')[0]!.split('-')[0]!;
  return `${m[1]}${first}`;
}

function intVar(env: NodeJS.ProcessEnv, name: string, min: number): number {
  const raw = env[name]!;
  const v = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(v) || v < min) throw new BackendError(`${name}=${JSON.stringify(raw)} is not an integer >= ${min}`);
  return v;
}

/** `SLURM_NTASKS_PER_NODE`-style counts: `4`, `4(x2)`, `2,1`: this node's share is the first. */
function slurmTasksPerNode(raw: string | undefined): number | null {
  const m = raw ? /^(\d+)/.exec(raw) : null;
  return m ? Number(m[1]) : null;
}

/**
 * The data-parallel place of this process, or null for a plain single-process run (no launcher, or
 * a world of one). Contradictory or malformed variables are a BackendError (exit 3) naming them.
 */
export function distEnvFrom(env: NodeJS.ProcessEnv): DistEnv | null {
  if (env.WORLD_SIZE !== undefined) {
    const worldSize = intVar(env, 'WORLD_SIZE', 1);
    if (worldSize === 1) return null;
    for (const name of ['RANK', 'MASTER_ADDR', 'MASTER_PORT']) {
      if (!env[name])
        throw new BackendError(
          `WORLD_SIZE=${worldSize} but ${name} is not set: a data-parallel launch sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (torchrun does)`,
        );
    }
    const rank = intVar(env, 'RANK', 0);
    if (rank >= worldSize) throw new BackendError(`RANK=${rank} is not below WORLD_SIZE=${worldSize}`);
    const localWorldSize = env.LOCAL_WORLD_SIZE ? intVar(env, 'LOCAL_WORLD_SIZE', 1) : worldSize;
    const localRank = env.LOCAL_RANK ? intVar(env, 'LOCAL_RANK', 0) : rank % localWorldSize;
    if (localRank >= localWorldSize) throw new BackendError(`LOCAL_RANK=${localRank} is not below LOCAL_WORLD_SIZE=${localWorldSize}`);
    return {
      rank,
      worldSize,
      localRank,
      localWorldSize,
      masterAddr: env.MASTER_ADDR!,
      masterPort: port(env),
      launcher: env.PWLU_LAUNCHER === 'pwlu' ? 'pwlu' : 'torchrun',
      agentStore: env.TORCHELASTIC_USE_AGENT_STORE === 'True',
    };
  }
  if (env.SLURM_NTASKS !== undefined && env.SLURM_PROCID !== undefined) {
    const worldSize = intVar(env, 'SLURM_NTASKS', 1);
    if (worldSize === 1) return null;
    const rank = intVar(env, 'SLURM_PROCID', 0);
    if (rank >= worldSize) throw new BackendError(`SLURM_PROCID=${rank} is not below SLURM_NTASKS=${worldSize}`);
    const localRank = env.SLURM_LOCALID ? intVar(env, 'SLURM_LOCALID', 0) : 0;
    const localWorldSize = slurmTasksPerNode(env.SLURM_STEP_TASKS_PER_NODE) ?? slurmTasksPerNode(env.SLURM_NTASKS_PER_NODE) ?? localRank + 1;
    const nodes = env.SLURM_STEP_NODELIST ?? env.SLURM_JOB_NODELIST;
    const masterAddr = env.MASTER_ADDR || (nodes ? firstSlurmHost(nodes) : '');
    if (!masterAddr) throw new BackendError('SLURM_NTASKS > 1 but neither MASTER_ADDR nor SLURM_JOB_NODELIST is set: cannot find the master node');
    let masterPort: number;
    if (env.MASTER_PORT) masterPort = port(env);
    else if (env.SLURM_JOB_ID) masterPort = 20000 + (intVar(env, 'SLURM_JOB_ID', 0) % 20000);
    else throw new BackendError('SLURM_NTASKS > 1 but neither MASTER_PORT nor SLURM_JOB_ID is set: cannot choose the rendezvous port');
    return { rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, launcher: 'slurm', agentStore: false };
  }
  return null;
}

function port(env: NodeJS.ProcessEnv): number {
  const p = intVar(env, 'MASTER_PORT', 1);
  if (p > 65535) throw new BackendError(`MASTER_PORT=${p} is not a TCP port (1-65535)`);
  return p;
}
