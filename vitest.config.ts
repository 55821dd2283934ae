import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    // Unit tests run the TypeScript sources; integration tests spawn the compiled services.
    alias: {
      '@scc-ts/shared': here('./packages/shared/src/index.ts'),
      '@scc-ts/scc-worker': here('./packages/scc-worker/src/index.ts'),
      '@scc-ts/history-client': here('./packages/scc-history-client/src/index.ts'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two files at a time on CI's two cores: most integration files spend their time waiting on real
    // timers and sockets (a 12 s network cut, a soak), so two overlap well; vitest's default here is 1.
    maxWorkers: 2,
    // The JSON report is what CI reads for its "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
