/** PWLU_REQUIRE: a named optional part that is missing fails its tests instead of skipping them. */
import { describe, expect, it, vi } from 'vitest';
import { OPTIONAL_PARTS, optionalPart, requiredParts, torchTestDevice } from '../helpers/optional-parts.js';

describe('PWLU_REQUIRE', () => {
  it('parses a comma-separated list and all; an unknown name is an error', () => {
    expect([...requiredParts('')]).toEqual([]);
    expect([...requiredParts(' native, dist ')]).toEqual(['native', 'dist']);
    expect([...requiredParts('all')]).toEqual([...OPTIONAL_PARTS]);
    expect(() => requiredParts('native,jepg')).toThrow(/unknown part 'jepg'/);
  });

  it('a present part runs; a missing one is skipped with its reason, or fails when required', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(optionalPart('native', true, 'x', new Set(['native']))).toBe(true);
    expect(optionalPart('jpeg', false, 'no libjpeg', new Set(['native']))).toBe(false);
    expect(warn).toHaveBeenCalledWith('[jpeg tests] skipped: no libjpeg');
    expect(() => optionalPart('native', false, 'compile failed', new Set(['native']))).toThrow(/PWLU_REQUIRE names 'native'.*compile failed/);
    warn.mockRestore();
  });

  it("PWLU_TEST_DEVICE picks the torch tests' device; anything else is an error", () => {
    expect(torchTestDevice('')).toBe('auto');
    expect(torchTestDevice('cuda')).toBe('cuda');
    expect(torchTestDevice('cpu')).toBe('cpu');
    expect(() => torchTestDevice('gpu')).toThrow(/'gpu' is not a device/);
  });
});
