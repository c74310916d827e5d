import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { testKafka } from '@fleetledger/testing';

/** What global setup hands to every test file works: a broker that answers and a superuser database URL. */
describe('the infrastructure handed to test files', () => {
  it('KAFKA_BROKERS answers with a single-node cluster that accepts topics', async () => {
    const admin = testKafka('infrastructure-check').admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      expect(cluster.brokers).toHaveLength(1);
      const topic = `infra-check-${process.pid}-${Date.now()}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
      const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      expect(metadata.partitions).toHaveLength(3);
      await admin.deleteTopics({ topics: [topic] });
    } finally {
      await admin.disconnect();
    }
  });

  it('PostgreSQL stores UTF-8: length() counts characters, as the services expect', async () => {
    const admin = new Client({ connectionString: process.env.TEST_ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query(
        `SELECT current_setting('server_encoding') AS encoding, length($1) AS n`,
        ['Grüße, 世界'],
      );
      expect(rows).toEqual([{ encoding: 'UTF8', n: 9 }]);
    } finally {
      await admin.end();
    }
  });

  it('TEST_ADMIN_DATABASE_URL may create and drop databases', async () => {
    const admin = new Client({ connectionString: process.env.TEST_ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      const name = `fl_infra_check_${process.pid}`;
      await admin.query(`CREATE DATABASE ${name}`);
      const { rows } = await admin.query('SELECT datname FROM pg_database WHERE datname = $1', [name]);
      expect(rows).toEqual([{ datname: name }]);
      await admin.query(`DROP DATABASE ${name}`);
    } finally {
      await admin.end();
    }
  });

  it('given KAFKA_BROKERS and DATABASE_URL, global setup starts nothing and hands them on unchanged', async () => {
    const given = {
      KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
      DATABASE_URL: process.env.TEST_ADMIN_DATABASE_URL!,
    };
    const script = `require('./libs/testing/src/infrastructure').ensureInfrastructure().then((started) =>
      console.log(JSON.stringify({ plan: started.plan, KAFKA_BROKERS: process.env.KAFKA_BROKERS,
        DATABASE_URL: process.env.DATABASE_URL, TEST_ADMIN_DATABASE_URL: process.env.TEST_ADMIN_DATABASE_URL })))`;
    const { stdout } = await promisify(execFile)('node', ['-r', '@swc-node/register', '-e', script], {
      cwd: path.resolve(__dirname, '../../..'),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...given, TEST_INFRA: 'containers' },
      timeout: 60_000,
    });
    expect(JSON.parse(stdout)).toEqual({
      plan: { kafka: 'given', postgres: 'given' },
      ...given,
      TEST_ADMIN_DATABASE_URL: given.DATABASE_URL,
    });
  });
});
