/**
 * `npm run test:slow`: tests that wait on the real clock for minutes (a request applied at its
 * quietest slot, a few minutes ahead), so apart from `npm test`; `.ci/run` runs them after it.
 * @type {import('jest').Config}
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/slow'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 600000,
};
