// Builds the demo into dist/, which collab-server embeds and serves at `/` (see build.sh).
// `npm run dev` proxies the API and the sockets to a local `cargo run --release`.
import { defineConfig } from 'vite'

const backend = process.env.WEFT_URL || 'http://127.0.0.1:4000'

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': backend,
      '/blobs': backend,
      '/ws': { target: backend, ws: true },
      '/chat': { target: backend, ws: true },
    },
  },
})
