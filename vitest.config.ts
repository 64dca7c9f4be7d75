import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["{core,io-managers,assets,server,examples,test}/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/.materia/**"],
    typecheck: {
      enabled: false,
      include: ["{core,io-managers,assets,server,test}/**/*.test-d.ts"],
      tsconfig: "./tsconfig.check.json"
    },
    testTimeout: 60_000
  }
})
