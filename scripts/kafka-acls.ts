/**
 * Applies FleetLedger's Kafka ACLs (libs/contracts/src/kafka-acls.ts) for one deployment prefix, as the
 * admin user. Run by `infra/kafka/kafka.sh up`; idempotent (Kafka keeps one copy of each binding).
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 KAFKA_CREDENTIALS_FILE=.infra/kafka/credentials.env \
 *     node -r @swc-node/register scripts/kafka-acls.ts
 *
 * Credentials: the admin line of KAFKA_CREDENTIALS_FILE, or else KAFKA_SASL_* (which must name a super
 * user). KAFKA_TOPIC_PREFIX (default empty) selects the deployment. `--print` only lists the bindings.
 * `--revoke-prefixes-from <file>` deletes the bindings of every prefix listed in the file, one a line
 * (the test harness's record of what a run granted; run by the jest global teardown).
 */
import { readFileSync } from 'node:fs';
import { kafkaAclBindings, KafkaUsers } from '@fleetledger/contracts';
import { createKafka, KafkaCredentials, kafkaSettingsFromEnv } from '@fleetledger/eventstore';
import { applyAclBindings, revokeAclBindings } from '@fleetledger/eventstore/kafka-admin';

async function main(): Promise<void> {
  const prefix = process.env.KAFKA_TOPIC_PREFIX ?? '';
  const bindings = kafkaAclBindings(prefix);
  if (process.argv.includes('--print')) {
    for (const b of bindings)
      process.stdout.write(
        `${b.principal} ALLOW ${b.operation} ${b.resourceType} ${b.patternType} ${b.resourceName}\n`,
      );
    return;
  }
  const settings = kafkaSettingsFromEnv('fleetledger-acls');
  const file = process.env.KAFKA_CREDENTIALS_FILE;
  if (file) {
    const credentials = KafkaCredentials.read(file);
    settings.sasl = credentials.sasl(KafkaUsers.admin);
    settings.ssl = credentials.ssl;
  }
  if (!settings.sasl)
    throw new Error('no Kafka admin credentials: set KAFKA_CREDENTIALS_FILE or KAFKA_SASL_*');
  const revokeFrom = process.argv.indexOf('--revoke-prefixes-from');
  if (revokeFrom > 0) {
    const listed = readFileSync(process.argv[revokeFrom + 1], 'utf8').split('\n');
    const prefixes = [...new Set(listed.filter(Boolean))];
    const deleted = await revokeAclBindings(
      createKafka(settings),
      prefixes.flatMap((p) => kafkaAclBindings(p)),
    );
    process.stderr.write(`[kafka] ${deleted} ACL bindings of ${prefixes.length} test prefixes deleted\n`);
    return;
  }
  await applyAclBindings(createKafka(settings), bindings);
  process.stderr.write(
    `[kafka] ${bindings.length} ACL bindings applied for prefix '${prefix}' on ${settings.brokers.join(',')}\n`,
  );
}

main().catch((error: Error) => {
  process.stderr.write(`[kafka] ACLs not applied: ${error.message}\n`);
  process.exit(1);
});
