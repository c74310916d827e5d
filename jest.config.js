// Two tiers, chosen by file name (see STYLE.md, "Tests"):
//   unit: *.unit.spec.ts, pure functions, no infrastructure, milliseconds;
//   int:  *.int.spec.ts and *.e2e.spec.ts, against a real Kafka broker and a real PostgreSQL,
//         brought up once by the global setup when KAFKA_BROKERS / DATABASE_URL are not given.
const fs = require('node:fs');
const swcConfig = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));

const shared = {
  rootDir: __dirname,
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swcConfig, swcrc: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@fleetledger/(contracts|eventstore|platform|testing)$': '<rootDir>/libs/$1/src',
    '^@fleetledger/(contracts|eventstore|platform|testing)/(.*)$': '<rootDir>/libs/$1/src/$2',
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

module.exports = {
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/libs/testing/src/summary-reporter.js'],
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/**/*.unit.spec.ts'] },
    {
      ...shared,
      displayName: 'int',
      testMatch: ['<rootDir>/**/*.int.spec.ts', '<rootDir>/**/*.e2e.spec.ts'],
      globalSetup: '<rootDir>/libs/testing/src/global-setup.ts',
      globalTeardown: '<rootDir>/libs/testing/src/global-teardown.ts',
    },
  ],
};
