/**
 * The optional parts of pwlu (the native torch addon, its JPEG decoder and torch.distributed, a headless Chromium,
 * Debian's torchrun, Debian's Fashion-MNIST files, Debian's python3-torch + python3-torchvision for the state_dict tests) whose tests are skipped, with their reason, where the part is missing. `PWLU_REQUIRE` (a
 * comma-separated list of part names, or `all`) turns that skip into a failure: CI sets it, so a broken native build
 * cannot pass as "all tests green, every native test skipped".
 */
export const OPTIONAL_PARTS = ['native', 'jpeg', 'dist', 'chromium', 'torchrun', 'fashion-mnist', 'torchvision'] as const;
export type OptionalPart = (typeof OPTIONAL_PARTS)[number];

/** The parts `PWLU_REQUIRE` names; an unknown name is an error, so a typo cannot silently require nothing. */
export function requiredParts(value = process.env.PWLU_REQUIRE ?? ''): Set<OptionalPart> {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.includes('all')) return new Set(OPTIONAL_PARTS);
  for (const n of names) {
    if (!(OPTIONAL_PARTS as readonly string[]).includes(n)) {
      throw new Error(`PWLU_REQUIRE: unknown part '${n}' (known: ${OPTIONAL_PARTS.join(', ')}, or all)`);
    }
  }
  return new Set(names as OptionalPart[]);
}

/**
 * Whether the tests of an optional part run: true when it is present; when it is absent, false with a warning naming
 * why, or, when PWLU_REQUIRE names it, an Error that fails the test file.
 */
export function optionalPart(part: OptionalPart, present: boolean, reason: string, required = requiredParts()): boolean {
  if (present) return true;
  if (required.has(part)) throw new Error(`PWLU_REQUIRE names '${part}', but it is not available here: ${reason}`);
  console.warn(`[${part} tests] skipped: ${reason}`);
  return false;
}

/**
 * The device the torch-backend tests run on: PWLU_TEST_DEVICE=cuda compares the CUDA kernels against tfjs's CPU ones
 * (and fails where CUDA is missing), cpu forces the CPU; unset, the backend's own choice (CUDA when visible).
 */
export function torchTestDevice(value = process.env.PWLU_TEST_DEVICE ?? ''): 'auto' | 'cpu' | 'cuda' {
  if (value === '' || value === 'auto') return 'auto';
  if (value === 'cpu' || value === 'cuda') return value;
  throw new Error(`PWLU_TEST_DEVICE: '${value}' is not a device (cpu or cuda)`);
}
