import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The bundle builds the Kubernetes client into a file of its own from the names src/kube/client-node.ts re-exports (scripts/bundle.ts). */
const KUBE_CLIENT_ONLY = { name: '@kubernetes/client-node', message: 'import it from src/kube/client-node.ts (add the name there)', allowTypeImports: true };

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
    // Packages the bundle keeps in files of their own (VENDORED in scripts/bundle.ts), each imported
    // only through its one module or folder: a value imported elsewhere would bypass that.
    files: ['src/**/*.ts'],
    ignores: ['src/kube/client-node.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [KUBE_CLIENT_ONLY],
          patterns: [
            {
              group: ['@aws-sdk/*', '@smithy/*'],
              message: 'only src/sinks/s3/ loads the AWS SDK (bundled apart, loaded for an s3 sink only)',
              allowTypeImports: true,
            },
          ],
        },
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
    // The AWS SDK's own folder: the same rule without the SDK's patterns.
    files: ['src/sinks/s3/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [KUBE_CLIENT_ONLY] }],
    },
  },
  {
    // CommonJS on purpose (scripts/support/prom-client-lean.cjs: a lazy export needs a getter).
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', exports: 'writable', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
