// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import simpleImportSort from 'eslint-plugin-simple-import-sort';
import tseslint from 'typescript-eslint';

/**
 * A small rule set that catches real defects: promises nobody awaits, unused code, imports in a stable order and
 * type-only imports marked as such. Formatting is Prettier's (`npm run format`), not ESLint's.
 */
export default tseslint.config(
  { ignores: ['node_modules/', '**/__generated__/', 'coverage/', 'dist/', '.bench-builds/'] },
  js.configs.recommended,
  // Plain JavaScript files (configuration, test fixtures) run under Node.
  {
    files: ['**/*.{js,mjs}'],
    languageOptions: { globals: { process: 'readonly', setTimeout: 'readonly', setInterval: 'readonly', console: 'readonly' } },
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'simple-import-sort': simpleImportSort },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'simple-import-sort/imports': 'error',
      'simple-import-sort/exports': 'error',
    },
  },
  prettier,
);
