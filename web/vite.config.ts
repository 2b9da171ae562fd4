/// <reference types="vitest/config" />
// Vite builds the console into web/dist (served by admin_api/web_assets.py); `npm run dev` proxies the API.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

// `npm run dev` talks to a gateway started with `one-api` on its default port.
const gateway = 'http://localhost:3000';

/** Writes a .gz twin of each text asset; aiohttp's FileResponse sends it to clients that accept gzip. */
function gzipTwins(): Plugin {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  return {
    name: 'gzip-twins',
    apply: 'build',
    closeBundle() {
      for (const file of walk('dist')) {
        if (!/\.(js|css|svg|json|txt)$/.test(file) || statSync(file).size < 1024) continue;
        writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  plugins: [gzipTwins()],
  build: { outDir: 'dist', assetsDir: 'assets', sourcemap: false, target: 'es2020' },
  server: { proxy: { '/api': gateway, '/v1': gateway } },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
