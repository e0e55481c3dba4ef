/**
 * `npm run test:aws`: the project's AWS calls and its template against moto and cfn-lint (Python
 * tools, installed on the machine, not from the repository), so apart from `npm test`.
 * @type {import('jest').Config}
 */
// moto and cfn-lint may live under the user's HOME (pip --user): these tests keep the real one.
process.env.STICKLER_TEST_SANDBOX ??= 'off';
const base = require('./jest.config');

module.exports = {
  ...base,
  roots: ['<rootDir>/test/aws'],
  testPathIgnorePatterns: ['/node_modules/'],
  globalSetup: '<rootDir>/test/aws/global-setup.ts',
  globalTeardown: '<rootDir>/test/aws/global-teardown.ts',
  testTimeout: 60000,
};
