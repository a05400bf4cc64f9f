import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The arrows of ARCHITECTURE.md ("who may import whom"), enforced on every import.
const forbid = (patterns, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }],
});

export default tseslint.config(
  { ignores: ['node_modules/', 'migrations/', '.heldout/', '.tmp/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['evaluators/**'],
    rules: forbid(
      ['**/server/**', '**/plugins/**', '**/web/**'],
      'evaluators/ is pure: no server, plugins or web',
    ),
  },
  {
    files: ['plugins/**'],
    ignores: ['plugins/builtin/**'],
    rules: forbid(
      ['**/server/**', '**/web/**', '**/plugins/builtin/**'],
      'plugins/sdk and plugins/model stand alone',
    ),
  },
  {
    files: ['plugins/builtin/**', 'plugins/examples/**'],
    rules: forbid(
      ['**/server/**', '**/web/**', '**/evaluators/**'],
      'a plugin imports plugins/sdk and plugins/model only',
    ),
  },
  {
    files: ['web/**'],
    rules: forbid(
      ['**/server/**', '**/plugins/**', '**/evaluators/**'],
      'web/ talks to the server over HTTP only',
    ),
  },
);
