import { KafkaUsers } from '@fleetledger/contracts';
import { credentialsFileText, KAFKA_SCRAM_USERS, scramKafkaEnvironment } from './test-containers';
import { KafkaCredentials } from '@fleetledger/eventstore';

describe('the Kafka container speaks SCRAM like the local broker', () => {
  it('creates every user the contracts name (the list is repeated for global setup, which has no aliases)', () => {
    expect([...KAFKA_SCRAM_USERS].sort()).toEqual(Object.values(KafkaUsers).sort());
  });

  it('authenticates on the published listener only and denies what no ACL allows', () => {
    expect(scramKafkaEnvironment()).toMatchObject({
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CLIENT:SASL_PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_SASL_ENABLED_MECHANISMS: 'SCRAM-SHA-512',
      KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND: 'false',
    });
  });

  it('writes the credentials file the services and the harness read', () => {
    const credentials = KafkaCredentials.parse(credentialsFileText({ admin: 'a=b/c', billing: 'p2' }));
    expect(credentials.users.sort()).toEqual(['admin', 'billing']);
    expect(credentials.sasl('admin')).toEqual({
      mechanism: 'scram-sha-512',
      username: 'admin',
      password: 'a=b/c',
    });
  });
});
