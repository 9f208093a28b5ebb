import { defineConfig } from 'vitest/config'

// Integration tests start real services (aedes, influxd, chromium) on free ports; two cores
// means running more than two files at once only makes every test slower and flakier.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fetches the model files and sample photos when missing (a fresh clone); see the file.
    globalSetup: ['./test/support/models-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
})
