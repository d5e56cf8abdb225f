import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real mounts and sockets: keep parallelism to the two cores CI has.
    maxWorkers: 2,
    reporters: ["default", "json"],
    outputFile: { json: ".test-results/vitest.json" }
  }
})
