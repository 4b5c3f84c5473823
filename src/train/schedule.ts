import type { TrainConfig } from '../config/schema.js';

/**
 * Learning rate at a fractional epoch position (epoch + step/stepsPerEpoch), so that the
 * schedule is a pure function of progress and a resumed run continues it exactly.
 */
export function learningRate(cfg: Pick<TrainConfig, 'lr' | 'epochs' | 'schedule'>, progress: number, stepsPerEpoch = 1): number {
  const s = cfg.schedule;
  const peak = cfg.lr;
  // A warm-up given in steps (detection recipes) is that many steps' share of an epoch.
  const warmup = s.warmup_steps != null ? s.warmup_steps / Math.max(stepsPerEpoch, 1) : s.warmup_epochs;
  if (warmup > 0 && progress < warmup) {
    const f = s.warmup_factor + (1 - s.warmup_factor) * (progress / warmup);
    return peak * f;
  }
  switch (s.name) {
    case 'constant':
      return peak;
    case 'step': {
      const passed = s.milestones.filter((m) => progress >= m).length;
      return peak * s.gamma ** passed;
    }
    case 'cosine': {
      const span = Math.max(cfg.epochs - warmup, 1e-9);
      const t = Math.min(Math.max((progress - warmup) / span, 0), 1);
      const floor = peak * s.min_lr_factor;
      return floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * t));
    }
  }
}
