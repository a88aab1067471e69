// Lint: typescript-eslint recommended rules for our own code; generated Prisma client and vendor assets excluded.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/', 'src/generated/', 'data/', 'coverage/', 'dist/', 'tmp/', 'test/e2e/screenshots/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Browser code: ES modules sharing public/js/lib/ui.js, values put into the DOM as text or through html``.
    files: ['public/js/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { ...globals.browser, $: 'readonly', jQuery: 'readonly', bootstrap: 'readonly', DataTable: 'readonly' },
    },
    rules: {
      'no-restricted-syntax': ['error',
        { selector: "AssignmentExpression > MemberExpression.left[property.name=/^(innerHTML|outerHTML)$/]", message: 'Build nodes (el() in lib/ui.js) or use textContent.' },
        { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: 'Build nodes (el() in lib/ui.js) instead.' },
        { selector: "AssignmentExpression > MemberExpression.left[object.name='window'][property.name=/^ferry|^Ferry/]", message: 'Export it from a module instead.' }],
    },
  },
);
