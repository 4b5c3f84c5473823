// Import boundaries (`npm run deps`): the layering as the code has it (shared/reviews/architecture-2026-12.md §4),
//
//   cli → bench / report / train / export → models / data / detection → run / distributed → config → activations → nn → ops → util
//
// and ops is the leaf contract that backends implement (backends → ops, util; models, activations, nn, ops, util and
// pwlu/layers never import backends).
// A folder may import any folder of a lower rank (and its own); an import to a higher rank is an error, type-only
// imports included. Siblings of one rank may import each other except where a rule below says not. A new top-level
// folder under src/ fails until it is given a rank here. dependency-cruiser resolves the code's `./x.js` specifiers
// to the `.ts` files and sees `import type` (tsPreCompilationDeps), so type-only edges and cycles count.

/** Rank of each top-level folder of src/: higher may import lower. */
const RANK = {
  cli: 10,
  bench: 8,
  report: 8,
  train: 8,
  export: 8,
  models: 6,
  data: 6,
  detection: 6, // box math, losses and COCO's metrics: used by models, data and train
  run: 5, // the run-directory format: usable from any layer above
  distributed: 5,
  config: 4,
  activations: 3,
  nn: 2, // generic nn layers (batch norm, ...): below both models and activations
  ops: 1,
  util: 0, // anyone may import util; util imports only util
  types: 0, // ambient declarations
};
// Not ranked, own rules below: backends (implements ops), layers (the browser module pwlu/layers).
const SPECIAL = ['backends', 'layers'];
const KNOWN = [...Object.keys(RANK), ...SPECIAL];

const folders = (pred) =>
  Object.entries(RANK)
    .filter(([, r]) => pred(r))
    .map(([f]) => f);

/** One rule per rank: its folders import nothing of a higher rank. */
const upward = [...new Set(Object.values(RANK))]
  .filter((r) => folders((x) => x > r).length > 0)
  .map((r) => ({
    name: `layer-order-${folders((x) => x === r).join('-')}`,
    comment: `${folders((x) => x === r).join(', ')} must not import a higher layer (${folders((x) => x > r).join(', ')}): see the layer order at the top of .dependency-cruiser.cjs`,
    severity: 'error',
    from: { path: `^src/(${folders((x) => x === r).join('|')})/` },
    to: { path: `^src/(${folders((x) => x > r).join('|')})/` },
  }));

// The browser-safe, side-effect-free side of an activation: its spec file (src/activations/specs/*.ts,
// src/activations/*/spec.ts, src/activations/[*/]*.spec.ts) and the spec contract modules (activations/spec.ts, the
// ONNX form builders activations/onnx.ts). pwlu/layers and the exporter build on these; training layers do not belong.
const SPEC = '^src/activations/(specs/[^/]+|[^/]+/spec|[^/]+\\.spec|[^/]+/[^/]+\\.spec)\\.ts$';
const SPEC_SIDE = [SPEC, '^src/activations/(spec|onnx)\\.ts$'];
// The spec-layer helpers pwlu/layers shares with the training layers (addSpecWeights, optionsFromConfig, tensorWeights,
// SpecBacked): tfjs-core and tfjs-layers only, already on the browser bundle's allow list (test/export/tfjs.test.ts).
// Not spec side (it builds tfjs-layers Layers), so it has its own rule on what it may import (spec-layer-imports).
const SPEC_LAYER = '^src/activations/layer\\.ts$';
const NODE_BUILTIN =
  '^(node:)?(assert|async_hooks|buffer|child_process|cluster|crypto|dgram|dns|events|fs|http|http2|https|inspector|module|net|os|path|perf_hooks|process|readline|stream|string_decoder|timers|tls|tty|url|util|v8|vm|worker_threads|zlib)(/|$)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'unranked-src-folder',
      comment: 'every top-level folder of src/ has a place in the layer order: add it to RANK (or the special rules) in .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^src/', pathNot: [`^src/(${KNOWN.join('|')})/`] },
      to: {},
    },
    {
      name: 'ops-is-the-leaf',
      comment: 'ops is the contract backends implement: it imports nothing of ours outside ops',
      severity: 'error',
      from: { path: '^src/ops/' },
      to: { path: '^src/', pathNot: '^src/(ops|types)/' },
    },
    {
      name: 'backends-implement-ops',
      comment: 'backends implement the ops contract: they import ops and util only (a type a backend needs from elsewhere belongs in ops or util)',
      severity: 'error',
      from: { path: '^src/backends/' },
      to: { path: '^src/', pathNot: '^src/(backends|ops|util|types)/' },
    },
    {
      name: 'not-to-backends',
      comment: 'models, activations, nn, ops, util and pwlu/layers never import backends: they reach kernels through ops',
      severity: 'error',
      from: { path: '^src/(models|activations|nn|ops|util|types|layers)/' },
      to: { path: '^src/backends/' },
    },
    {
      name: 'report-not-to-train',
      comment: 'the report reads run directories (run/) and never imports the trainer',
      severity: 'error',
      from: { path: '^src/report/' },
      to: { path: '^src/train/' },
    },
    {
      name: 'bench-not-to-report',
      comment: 'bench plans and runs cells; the report reads their results on its own',
      severity: 'error',
      from: { path: '^src/bench/' },
      to: { path: '^src/report/' },
    },
    {
      name: 'not-to-cli',
      comment: 'nothing under src/ imports src/cli/; library logic the CLI uses lives in the library',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'tests-not-to-cli',
      comment: 'only test/cli/ tests the CLI; tests of library behaviour import library code',
      severity: 'error',
      from: { path: '^test/', pathNot: '^test/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'layers-imports',
      comment: 'pwlu/layers (the browser module) imports only itself, the spec side of activations (SPEC_SIDE), the spec-layer helpers (SPEC_LAYER) and ops',
      severity: 'error',
      from: { path: '^src/layers/' },
      to: { path: '^src/', pathNot: ['^src/(layers|ops|types)/', ...SPEC_SIDE, SPEC_LAYER] },
    },
    {
      name: 'spec-layer-imports',
      comment:
        'the spec-layer helpers (activations/layer.ts) are part of pwlu/layers: they import tfjs-core, tfjs-layers, zod, ops, nn, util, the spec side of activations and activations/types.ts only',
      severity: 'error',
      from: { path: SPEC_LAYER },
      to: {
        pathNot: [
          '^src/(ops|nn|util|types)/',
          ...SPEC_SIDE,
          '^src/activations/types\\.ts$',
          'node_modules/@tensorflow/tfjs-(core|layers)/',
          'node_modules/zod/',
        ],
      },
    },
    {
      name: 'layers-packages',
      comment: 'pwlu/layers (the browser module) imports no package but @tensorflow/tfjs-core and @tensorflow/tfjs-layers',
      severity: 'error',
      from: { path: '^src/layers/' },
      to: {
        dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'],
        pathNot: 'node_modules/@tensorflow/tfjs-(core|layers)/',
      },
    },
    {
      name: 'layers-no-node-builtins',
      comment: 'pwlu/layers runs in a browser: nothing it imports, directly or through ops and specs, may import a node: builtin',
      severity: 'error',
      from: { path: '^src/layers/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'browser-reach-no-node-builtins',
      comment: 'pwlu/layers and the activation specs run in a browser: no module they reach may import a node: builtin',
      severity: 'error',
      from: { path: ['^src/layers/', ...SPEC_SIDE] },
      to: { path: NODE_BUILTIN, reachable: true },
    },
    {
      name: 'browser-reach-no-backends',
      comment: 'pwlu/layers and the activation specs are side-effect-free: no module they reach registers a backend or kernel',
      severity: 'error',
      from: { path: ['^src/layers/', ...SPEC_SIDE] },
      to: { path: '^src/backends/', reachable: true },
    },
    {
      name: 'spec-imports',
      comment: 'an activation spec is side-effect-free: it imports tfjs-core, zod (its options schema), ops, nn, util and the spec side of activations only',
      severity: 'error',
      from: { path: SPEC_SIDE },
      to: {
        pathNot: ['^src/(ops|nn|util|types)/', ...SPEC_SIDE, 'node_modules/@tensorflow/tfjs-core/', 'node_modules/zod/'],
      },
    },
    {
      name: 'no-circular',
      comment: 'no import cycles, type-only ones included (a type cycle is still a design cycle: split the shared type out)',
      severity: 'error',
      from: { path: '^(src|test)/' },
      to: { circular: true },
    },
    {
      name: 'src-not-to-test',
      comment: 'library code never imports test code',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'src-not-to-dev-dep',
      comment: 'src/ runs for users, who do not have devDependencies: move the package to dependencies or the import to test/',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-non-package-json',
      comment: 'every package imported is declared in package.json (not reached through another package)',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that resolves to no file (imports of the build output, dist/, excepted: it exists only after a build)',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '(^|/)dist/' },
    },
    {
      name: 'no-orphans',
      comment: 'a src/ module nothing imports and that imports nothing is dead code (entry points excepted)',
      severity: 'error',
      from: { orphan: true, path: '^src/', pathNot: ['\\.d\\.ts$'] },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|native/build|results|datasets|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.test.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
