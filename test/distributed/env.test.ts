import { describe, expect, it } from 'vitest';
import { distEnvFrom, firstSlurmHost } from '../../src/distributed/env.js';
import { BackendError } from '../../src/util/errors.js';

const TORCHRUN = { RANK: '3', WORLD_SIZE: '8', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: 'node01', MASTER_PORT: '29500' };
const SLURM = {
  SLURM_PROCID: '5',
  SLURM_NTASKS: '8',
  SLURM_LOCALID: '1',
  SLURM_NTASKS_PER_NODE: '4(x2)',
  SLURM_JOB_NODELIST: 'gpu[03-04]',
  SLURM_JOB_ID: '123456',
};

/** The BackendError (exit 3) a bad environment gives. */
function failure(env: NodeJS.ProcessEnv): BackendError {
  try {
    distEnvFrom(env);
  } catch (e) {
    expect(e).toBeInstanceOf(BackendError);
    expect((e as BackendError).exitCode).toBe(3);
    return e as BackendError;
  }
  throw new Error(`no error for ${JSON.stringify(env)}`);
}

describe('launcher environments', () => {
  it('no launcher, or a world of one, is a plain single-process run', () => {
    expect(distEnvFrom({})).toBeNull();
    expect(distEnvFrom({ WORLD_SIZE: '1', RANK: '0' })).toBeNull();
    expect(distEnvFrom({ SLURM_NTASKS: '1', SLURM_PROCID: '0' })).toBeNull();
    expect(distEnvFrom({ SLURM_JOB_ID: '7' })).toBeNull(); // an sbatch job step without srun tasks
  });

  it('reads torchrun (and pwlu --nproc, and torchrun’s agent store)', () => {
    expect(distEnvFrom(TORCHRUN)).toEqual({
      rank: 3,
      worldSize: 8,
      localRank: 1,
      localWorldSize: 2,
      masterAddr: 'node01',
      masterPort: 29500,
      launcher: 'torchrun',
      agentStore: false,
    });
    expect(distEnvFrom({ ...TORCHRUN, PWLU_LAUNCHER: 'pwlu' })?.launcher).toBe('pwlu');
    expect(distEnvFrom({ ...TORCHRUN, TORCHELASTIC_USE_AGENT_STORE: 'True' })?.agentStore).toBe(true);
    // Without the local variables: one node.
    expect(distEnvFrom({ RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '1234' })).toMatchObject({ localRank: 1, localWorldSize: 2 });
  });

  it('reads srun: the first node of the job is the master, the port comes from the job id; MASTER_* override', () => {
    expect(distEnvFrom(SLURM)).toEqual({
      rank: 5,
      worldSize: 8,
      localRank: 1,
      localWorldSize: 4,
      masterAddr: 'gpu03',
      masterPort: 20000 + (123456 % 20000),
      launcher: 'slurm',
      agentStore: false,
    });
    expect(distEnvFrom({ ...SLURM, MASTER_ADDR: 'head', MASTER_PORT: '4000' })).toMatchObject({ masterAddr: 'head', masterPort: 4000 });
    expect(distEnvFrom({ ...SLURM, SLURM_STEP_NODELIST: 'cpu7', SLURM_STEP_TASKS_PER_NODE: '2,1' })).toMatchObject({ masterAddr: 'cpu7', localWorldSize: 2 });
  });

  it('prefers torchrun’s variables to Slurm’s (torchrun inside an allocation)', () => {
    expect(distEnvFrom({ ...SLURM, ...TORCHRUN })).toMatchObject({ rank: 3, worldSize: 8, launcher: 'torchrun' });
  });

  it('takes the first host of Slurm node lists', () => {
    expect(firstSlurmHost('node01')).toBe('node01');
    expect(firstSlurmHost('node[01-04,07]')).toBe('node01');
    expect(firstSlurmHost('gpu-a[1-2],gpu-b3')).toBe('gpu-a1');
    expect(firstSlurmHost('host1,host2')).toBe('host1');
    expect(firstSlurmHost('n[7,3-4]')).toBe('n7');
  });

  it('names the variable and its value when the environment is wrong (exit 3)', () => {
    expect(failure({ ...TORCHRUN, RANK: '8' }).message).toMatch(/RANK=8 is not below WORLD_SIZE=8/);
    expect(failure({ ...TORCHRUN, WORLD_SIZE: 'two' }).message).toMatch(/WORLD_SIZE="two" is not an integer/);
    expect(failure({ ...TORCHRUN, RANK: '-1' }).message).toMatch(/RANK="-1"/);
    expect(failure({ WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '1' }).message).toMatch(/MASTER_ADDR is not set/);
    expect(failure({ WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' }).message).toMatch(/RANK is not set/);
    expect(failure({ ...TORCHRUN, MASTER_PORT: '70000' }).message).toMatch(/MASTER_PORT=70000 is not a TCP port/);
    expect(failure({ ...TORCHRUN, LOCAL_RANK: '2' }).message).toMatch(/LOCAL_RANK=2 is not below LOCAL_WORLD_SIZE=2/);
    expect(failure({ ...SLURM, SLURM_PROCID: '9' }).message).toMatch(/SLURM_PROCID=9 is not below SLURM_NTASKS=8/);
    expect(failure({ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_JOB_ID: '1' }).message).toMatch(/neither MASTER_ADDR nor SLURM_JOB_NODELIST/);
    expect(failure({ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_JOB_NODELIST: 'a1' }).message).toMatch(/neither MASTER_PORT nor SLURM_JOB_ID/);
  });
});
