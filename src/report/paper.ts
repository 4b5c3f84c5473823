/**
 * What the paper reports, to stand beside our numbers: ImageNet top-1 gain of PWLU over Swish
 * (percentage points) from the abstract of Zhou, Zhu, Zhong, "Learning specialized activation
 * functions with the Piecewise Linear Unit", ICCV 2021 (see shared/spec/activations.md).
 */

import { ACTIVATION_SPECS } from '../activations/specs/index.js';

/** How the reports cite the paper's numbers. */
export const PAPER_CITATION = 'Zhou et al., ICCV 2021 (abstract): ImageNet top-1, PWLU − Swish';

/**
 * PWLU − Swish top-1 (pp) per architecture. The abstract also gives +1.7 for "MobileNet-V3" without naming
 * the variant; it is attached to neither mobilenet_v3_large nor mobilenet_v3_small (a Small row showing +1.7
 * would claim what the abstract does not say), and the report prints PAPER_V3_NOTE beside those rows instead.
 */
export const PAPER_PWLU_MINUS_SWISH: Readonly<Record<string, number>> = {
  resnet18: 0.9,
  resnet50: 0.53,
  mobilenet_v2: 1.0,
  efficientnet_b0: 1.0,
};

/** What the abstract says about MobileNet-V3, for tables with a MobileNet-V3 row. */
export const PAPER_V3_NOTE =
  'The abstract reports +1.7 for "MobileNet-V3" without saying which variant (Large or Small), so neither MobileNet-V3 row shows it.';

/** The notes a table's paper column needs for its architectures. */
export function paperNotes(archs: readonly string[]): string[] {
  return archs.some((a) => a.startsWith('mobilenet_v3')) ? [PAPER_V3_NOTE] : [];
}

/** The paper's PWLU − Swish delta for an architecture, or null when the paper has none. */
export function paperDelta(arch: string): number | null {
  return Object.hasOwn(PAPER_PWLU_MINUS_SWISH, arch) ? PAPER_PWLU_MINUS_SWISH[arch]! : null;
}

/** How the reports cite the paper's detection numbers. */
export const PAPER_DETECTION_CITATION = 'Zhou et al., ICCV 2021: COCO AP, PWLU − Swish (ResNet-50 backbone)';

/**
 * PWLU − Swish box AP (points) on COCO per detector, as issue #22 states the paper's detection result (RetinaNet +0.5,
 * Mask R-CNN +0.4), keyed by the config's `detection.detector` name.
 */
export const PAPER_DETECTION_PWLU_MINUS_SWISH: Readonly<Record<string, number>> = {
  retinanet: 0.5,
  mask_rcnn: 0.4,
};

/** The paper's PWLU − Swish AP for a detector, or null when the paper has none. */
export function paperDetectionDelta(detector: string | null): number | null {
  return detector !== null && Object.hasOwn(PAPER_DETECTION_PWLU_MINUS_SWISH, detector) ? PAPER_DETECTION_PWLU_MINUS_SWISH[detector]! : null;
}

/** A detector's name as the paper and the tables write it (RetinaNet, Mask R-CNN); unknown names as they are. */
export function detectorLabel(detector: string | null): string {
  const known: Record<string, string> = { retinanet: 'RetinaNet', mask_rcnn: 'Mask R-CNN' };
  return detector === null ? 'detector ?' : (known[detector] ?? detector);
}

/** Display orders: the registries' orders, so tables read the same in every report (unknown names go last). */
export const ACTIVATION_ORDER: readonly string[] = ACTIVATION_SPECS.map((s) => s.name);
export const ARCH_ORDER = [
  'resnet20',
  'resnet56',
  'resnet18',
  'resnet34',
  'resnet50',
  'mobilenet_v2',
  'mobilenet_v3_large',
  'mobilenet_v3_small',
  'efficientnet_b0',
];

/** Sorts names by a preferred order, then alphabetically. */
export function ordered(names: Iterable<string>, order: readonly string[]): string[] {
  const rank = (n: string) => {
    const i = order.indexOf(n);
    return i < 0 ? order.length : i;
  };
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
