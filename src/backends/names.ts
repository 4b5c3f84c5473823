/**
 * The backend and device names, defined once and free of side effects: the config schema, backend
 * selection, the torch backend and the CLI's choices all read these lists (loading no tfjs).
 */

/** The backends pwlu can run on, fastest first: this is the automatic selection order. */
export const BACKEND_ORDER = ['tensorflow', 'torch', 'wasm', 'cpu'] as const;

/** A backend that computes (as opposed to the 'auto' choice). */
export type ConcreteBackend = (typeof BACKEND_ORDER)[number];

/** What a config or `--backend` may name: a backend, or 'auto' for the first available in BACKEND_ORDER. */
export const BACKENDS = ['auto', ...BACKEND_ORDER] as const;

/** A `backend` setting. */
export type BackendName = (typeof BACKENDS)[number];

/** The torch backend's device choices: 'auto' takes CUDA when it is visible. */
export const DEVICES = ['auto', 'cpu', 'cuda'] as const;

/** A `device` setting. */
export type Device = (typeof DEVICES)[number];
