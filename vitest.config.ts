import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // examples/ import the package by its name, as a user would.
  resolve: { alias: { tsdock: fileURLToPath(new URL('src/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real containers: give them time, and isolate them in processes.
    pool: 'forks',
    // Default bridges that test roots left behind, and the default parent cgroup and the tmpfs of
    // --rm containers' files if this run made them, removed once every test is done.
    globalSetup: [
      'test/helpers/network-teardown.ts',
      'test/helpers/cgroup-teardown.ts',
      'test/helpers/volatile-teardown.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
