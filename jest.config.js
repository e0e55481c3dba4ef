// Before anything else: the tests write only under a TMPDIR and HOME of their own.
require('./test/setup/sandbox');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // In the clone (ignored by git), not in TMPDIR: kept from run to run.
  cacheDirectory: '<rootDir>/node_modules/.cache/jest',
  globalTeardown: '<rootDir>/test/setup/remove-sandbox.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // test/aws runs against moto and cfn-lint, which `npm test` cannot count on: `npm run test:aws`;
  // test/slow waits minutes on the real clock: `npm run test:slow`.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/aws/', '<rootDir>/test/slow/'],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2023' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!@middy/)'],
  moduleNameMapper: {
    '^@middy/([^/]+)$': '<rootDir>/node_modules/@middy/$1/index.js',
  },
  testTimeout: 20000,
  // `npm test` collects coverage and fails under these (the level reached when the gate was set);
  // `npm run test:unit` does not collect it.
  collectCoverageFrom: ['lib/**/*.ts', 'functions/**/*.ts', '!lib/types/**'],
  coverageReporters: ['text-summary'],
  coverageThreshold: { global: { statements: 92, branches: 80, functions: 94, lines: 94 } },
};
