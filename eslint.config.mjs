// Lint rules that hold the boundaries of STYLE.md ("Boundaries that lint can hold").
import js from '@eslint/js';
import jest from 'eslint-plugin-jest';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      '.infra/**',
      'infra/kafka/libs/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    // A service never imports another service's code, and reaches libs only through the aliases.
    files: ['apps/{inventory,allocation,metering,billing}/**/*.ts', 'libs/*/src/**/*.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/libs/**', '../../*/src', '../../*/src/**', '../../../*/src/**', '**/apps/**'],
              message: 'Use the @fleetledger/* path aliases; never import another service.',
            },
          ],
        },
      ],
    },
  },
  {
    // Domain code is pure business logic: no framework, no database, no broker.
    files: ['apps/*/src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@fleetledger/eventstore', message: 'domain/ is pure: no Nest, TypeORM, pg or kafkajs.' },
          ],
          patterns: [
            {
              group: [
                '@nestjs/*',
                'typeorm',
                'typeorm/*',
                'pg',
                'kafkajs',
                '@fleetledger/eventstore/*',
                // The Decider contract and its given/when/then specification are pure (no I/O).
                '!@fleetledger/eventstore/decider',
                '@fleetledger/platform',
              ],
              message: 'domain/ is pure: no Nest, TypeORM, pg or kafkajs.',
            },
            {
              group: ['**/libs/**', '../../*/src', '../../*/src/**', '../../../*/src/**', '**/apps/**'],
              message: 'Use the @fleetledger/* path aliases; never import another service.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts'],
    ...jest.configs['flat/recommended'],
    rules: {
      ...jest.configs['flat/recommended'].rules,
      'jest/valid-expect': 'error',
      // Table-driven domain tests branch on a decision's kind before asserting on it.
      'jest/no-conditional-expect': 'off',
      'jest/expect-expect': [
        'error',
        // given(events).when(command).then(...) is the decider specification of libs/eventstore (decider.ts).
        { assertFunctionNames: ['expect', 'request.**.expect', 'given.**.then', 'given.**.thenRejects'] },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  prettier,
);
