import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard is built into dist/dashboard, which the API serves at `/` (src/server/dashboard.ts).
// Preact's JSX through esbuild: no Babel, no plugin to install.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2020',
    sourcemap: false,
    // One small bundle; nothing is fetched from anywhere but this origin at run time.
    modulePreload: { polyfill: false },
  },
  logLevel: 'warn',
});
