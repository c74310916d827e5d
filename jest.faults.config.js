// The fault suite (test/faults, docs/reliability.md): its own Kafka cluster, PostgreSQL and service
// processes, started and stopped by the suite itself, so it has no global setup. `npm run test:faults`.
const base = require('./jest.config.js');

module.exports = {
  testTimeout: 600000,
  reporters: base.reporters,
  projects: [
    {
      ...base.projects[0],
      displayName: 'faults',
      testMatch: ['<rootDir>/test/faults/**/*.faults.spec.ts'],
    },
  ],
};
