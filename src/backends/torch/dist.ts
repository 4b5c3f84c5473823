/**
 * The process group's lifecycle in the torch addon (native/src/dist.cc): whether this build has
 * torch.distributed, joining the group, a barrier, leaving. The collectives themselves are kernels
 * (src/ops/collectives.ts), so they run on the addon's tensors with no copy through JS.
 */
import { loadAddon, readBuildInfo, type NativeDistInfo, type TorchAddon } from './addon.js';

/** What a launcher needs to join: this rank, the world, the rendezvous and the collective backend. */
export interface ProcessGroupInit {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  backend: 'gloo' | 'nccl';
  timeoutS: number;
  /** The launcher's agent hosts the rendezvous store (torchrun's static rendezvous): every rank connects as a client. */
  agentStore: boolean;
}

/** Whether torch.distributed works here (for `pwlu doctor` and a clear refusal of a distributed launch). */
export function distSupport(): NativeDistInfo {
  let addon: TorchAddon;
  try {
    addon = loadAddon();
  } catch (e) {
    return { available: false, reason: `native torch backend unavailable: ${(e as Error).message}`, backends: [] };
  }
  if (!addon.distInfo)
    return {
      available: false,
      reason: readBuildInfo()?.dist?.reason ?? 'the addon predates torch.distributed; rebuild with `npm run build:native`',
      backends: [],
    };
  return addon.distInfo();
}

/** Joins the group; blocks until every rank has (or throws after the timeout, naming the store's address). */
export function initProcessGroup(o: ProcessGroupInit): void {
  const support = distSupport();
  if (!support.available) throw new Error(`torch.distributed is not available: ${support.reason}`);
  if (!support.backends.includes(o.backend)) throw new Error(`collective backend '${o.backend}' is not in this build (it has ${support.backends.join(', ')})`);
  loadAddon().distInit!(o.rank, o.worldSize, o.masterAddr, o.masterPort, o.backend, Math.round(o.timeoutS * 1000), o.rank === 0 && !o.agentStore);
}

/** Waits until every rank reaches this point (within the group's timeout). */
export function barrier(): void {
  loadAddon().distBarrier!();
}

/** Leaves the group (closes the store and the collective connections). */
export function destroyProcessGroup(): void {
  loadAddon().distDestroy?.();
}
