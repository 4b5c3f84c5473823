// ESLint (flat config): typescript-eslint's type-aware recommended set over src/ and test/, plus the rules below;
// plain JavaScript recommended over bin/ and scripts/. Formatting is Prettier's (no stylistic rules here), and the
// import layering is dependency-cruiser's (.dependency-cruiser.cjs). `npm run lint`; `npm run check` runs all three.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'native/build/', 'results/', 'datasets/', 'coverage/', 'scratch/', '.tmp/']),
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,

  // TypeScript: one program, tsconfig.eslint.json (tsconfig.test.json: src/, test/, vitest.config.ts; read with checked
  // indexing, as the code's `xs[i]!` assertions are written).
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        project: './tsconfig.eslint.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // Type-only imports say so (`import type`); an import of values and types stays one statement (`import { f, type T }`).
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/consistent-type-exports': 'error',
      // Promises: none dropped, none passed where a callback's result is ignored, awaited returns inside try/catch.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      // A switch over a union names every member (or has a default).
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true, allowDefaultCaseForExhaustiveSwitch: true }],
      '@typescript-eslint/no-deprecated': 'error',
      // tfjs ops return Tensor<Rank>; asserting the rank a shape guarantees (`as tf.Tensor2D`) is how its typed API is used,
      // and the rule's "specify the type argument instead" fails to type-check where the inputs fix the generic.
      '@typescript-eslint/no-unnecessary-type-assertion': [
        'error',
        { typesToIgnore: ['tf.Scalar', 'tf.Tensor1D', 'tf.Tensor2D', 'tf.Tensor3D', 'tf.Tensor4D', 'tf.Tensor'] },
      ],
      // `${shape}` of a tensor's shape is idiomatic in messages; objects and the like still need an explicit format.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true, allowArray: true }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-empty': 'error', // an empty block (a silent `catch {}` included) needs a comment that says why
      'prefer-const': 'error',
      'no-var': 'error',
      'object-shorthand': ['error', 'properties'],
      'no-throw-literal': 'off', // @typescript-eslint/only-throw-error (in the recommended set) covers it with types
    },
  },

  // Tests: vitest's `expect(obj.method)` and mocks pass methods unbound on purpose.
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/unbound-method': 'off',
    },
  },

  // Plain JavaScript (the launcher and the scripts): Node globals, no type information.
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: {
      globals: { ...globals.node },
    },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'prefer-const': 'error',
      'no-var': 'error',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
);
