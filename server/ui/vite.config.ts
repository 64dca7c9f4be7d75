/**
 * Builds the web UI (a single-page app) to `server/ui/dist`, which `materia dev` serves. `vite dev`
 * with this config proxies `/api` and `/auth` to a running `materia dev` (MATERIA_URL, default
 * http://127.0.0.1:3000) for working on the UI by hand.
 */
import react from "@vitejs/plugin-react"
import { defineConfig } from "vite"

const api = process.env.MATERIA_URL ?? "http://127.0.0.1:3000"

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Hashed files under /assets/ (the server caches those as immutable); app routes use /asset/<key>.
    assetsDir: "assets",
    chunkSizeWarningLimit: 2500
  },
  // changeOrigin: `materia dev` answers only requests whose Host header names it (DNS rebinding).
  server: {
    proxy: { "/api": { target: api, changeOrigin: true }, "/auth": { target: api, changeOrigin: true } }
  },
  preview: {
    proxy: { "/api": { target: api, changeOrigin: true }, "/auth": { target: api, changeOrigin: true } }
  }
})
