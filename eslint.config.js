import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // The bundle builds the Kubernetes client into a file of its own from the names this module
    // re-exports (scripts/bundle.ts): a value imported from the package elsewhere would bypass it.
    files: ['src/**/*.ts'],
    ignores: ['src/kube/client-node.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: [{ name: '@kubernetes/client-node', message: 'import it from src/kube/client-node.ts (add the name there)', allowTypeImports: true }] },
      ],
      // The first locale-aware format loads ICU's data: about 15 ms of CPU in every process.
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.property.name='toLocaleString']", message: 'use formatCount (src/format.ts)' },
        { selector: "MemberExpression[object.name='Intl']", message: 'use formatCount (src/format.ts)' },
      ],
    },
  },
  {
    // CommonJS on purpose (scripts/support/prom-client-lean.cjs: a lazy export needs a getter).
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', exports: 'writable', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
