/**
 * What the paper reports, to stand beside our numbers: ImageNet top-1 gain of PWLU over Swish
 * (percentage points) from the abstract of Zhou, Zhu, Zhong, "Learning specialized activation
 * functions with the Piecewise Linear Unit", ICCV 2021 (see shared/spec/activations.md).
 */

/** How the reports cite the paper's numbers. */
export const PAPER_CITATION = 'Zhou et al., ICCV 2021 (abstract): ImageNet top-1, PWLU − Swish';

/** PWLU − Swish top-1 (pp) per architecture; the abstract says "MobileNet-V3" without naming the variant. */
export const PAPER_PWLU_MINUS_SWISH: Readonly<Record<string, number>> = {
  resnet18: 0.9,
  resnet50: 0.53,
  mobilenet_v2: 1.0,
  mobilenet_v3_large: 1.7,
  mobilenet_v3_small: 1.7,
  efficientnet_b0: 1.0,
};

/** The paper's PWLU − Swish delta for an architecture, or null when the paper has none. */
export function paperDelta(arch: string): number | null {
  return Object.hasOwn(PAPER_PWLU_MINUS_SWISH, arch) ? PAPER_PWLU_MINUS_SWISH[arch]! : null;
}

/** Display orders: the registries' orders, so tables read the same in every report (unknown names go last). */
export const ACTIVATION_ORDER = ['relu', 'swish', 'hardswish', 'prelu', 'apl', 'pau', 'frelu', 'pwlu'];
export const ARCH_ORDER = ['resnet20', 'resnet56', 'resnet18', 'resnet34', 'resnet50', 'mobilenet_v2', 'mobilenet_v3_large', 'mobilenet_v3_small', 'efficientnet_b0'];

/** Sorts names by a preferred order, then alphabetically. */
export function ordered(names: Iterable<string>, order: readonly string[]): string[] {
  const rank = (n: string) => {
    const i = order.indexOf(n);
    return i < 0 ? order.length : i;
  };
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
