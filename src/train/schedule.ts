import type { TrainConfig } from '../config/schema.js';

/**
 * Learning rate at a fractional epoch position (epoch + step/stepsPerEpoch), so that the
 * schedule is a pure function of progress and a resumed run continues it exactly.
 */
export function learningRate(cfg: Pick<TrainConfig, 'lr' | 'epochs' | 'schedule'>, progress: number): number {
  const s = cfg.schedule;
  const peak = cfg.lr;
  if (s.warmup_epochs > 0 && progress < s.warmup_epochs) {
    const f = s.warmup_factor + (1 - s.warmup_factor) * (progress / s.warmup_epochs);
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
      const span = Math.max(cfg.epochs - s.warmup_epochs, 1e-9);
      const t = Math.min(Math.max((progress - s.warmup_epochs) / span, 0), 1);
      const floor = peak * s.min_lr_factor;
      return floor + (peak - floor) * 0.5 * (1 + Math.cos(Math.PI * t));
    }
  }
}
