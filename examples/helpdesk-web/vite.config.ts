import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  // The demo allows any localhost port; 127.0.0.1 keeps one origin spelling.
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: {
    rollupOptions: {
      // The app, and the urql check e2e/urql-test.mjs drives.
      input: { main: resolve(import.meta.dirname, 'index.html'), urql: resolve(import.meta.dirname, 'urql.html') },
    },
  },
});
