import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

const api = "http://127.0.0.1:8000";

export default defineConfig({
  base: "/dashboard/",
  plugins: [react()],
  server: {
    host: "127.0.0.1",
    proxy: {
      "/v1/stream": { target: api.replace("http", "ws"), ws: true },
      "/v1": { target: api },
    },
  },
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 400 },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["src/test/setup.ts"],
    css: { modules: { classNameStrategy: "non-scoped" } },
  },
});
