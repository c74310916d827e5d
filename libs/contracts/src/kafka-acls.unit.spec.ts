import {
  auditAclBindings,
  KafkaAclBinding,
  kafkaAclBindings,
  KafkaServiceName,
  serviceAclBindings,
  telemetryAgentAclBindings,
} from './kafka-acls';

/** `OPERATION TYPE:name` for each binding of a principal, sorted: a table a reader can check by eye. */
function grants(bindings: KafkaAclBinding[], user: string): string[] {
  return bindings
    .filter((b) => b.principal === `User:${user}`)
    .map(
      (b) =>
        `${b.operation} ${b.resourceType}${b.patternType === 'PREFIXED' ? '(prefix)' : ''}:${b.resourceName}`,
    )
    .sort();
}

/** May `user` do `operation` on the topic, under these bindings (all are literal for topics)? */
function allowed(bindings: KafkaAclBinding[], user: string, operation: string, topic: string): boolean {
  return bindings.some(
    (b) =>
      b.principal === `User:${user}` &&
      b.resourceType === 'TOPIC' &&
      b.resourceName === topic &&
      b.operation === operation,
  );
}

describe('Kafka ACLs as code', () => {
  const all = kafkaAclBindings('t1.');

  it('billing writes only its own events topic and the dead letters of what it reads', () => {
    expect(grants(serviceAclBindings('billing', 't1.'), 'billing')).toEqual(
      [
        'CREATE TOPIC:t1.allocation.events.v1',
        'CREATE TOPIC:t1.allocation.events.v1.dlq',
        'CREATE TOPIC:t1.billing.events.v1',
        'CREATE TOPIC:t1.billing.events.v1.dlq',
        'CREATE TOPIC:t1.inventory.events.v1',
        'CREATE TOPIC:t1.inventory.events.v1.dlq',
        'CREATE TOPIC:t1.metering.events.v1',
        'CREATE TOPIC:t1.metering.events.v1.dlq',
        'DESCRIBE TOPIC:t1.allocation.events.v1',
        'DESCRIBE TOPIC:t1.allocation.events.v1.dlq',
        'DESCRIBE TOPIC:t1.billing.events.v1',
        'DESCRIBE TOPIC:t1.billing.events.v1.dlq',
        'DESCRIBE TOPIC:t1.inventory.events.v1',
        'DESCRIBE TOPIC:t1.inventory.events.v1.dlq',
        'DESCRIBE TOPIC:t1.metering.events.v1',
        'DESCRIBE TOPIC:t1.metering.events.v1.dlq',
        'READ GROUP(prefix):t1.billing-',
        'READ TOPIC:t1.allocation.events.v1',
        'READ TOPIC:t1.inventory.events.v1',
        'READ TOPIC:t1.metering.events.v1',
        'WRITE TOPIC:t1.allocation.events.v1.dlq',
        'WRITE TOPIC:t1.billing.events.v1',
        'WRITE TOPIC:t1.inventory.events.v1.dlq',
        'WRITE TOPIC:t1.metering.events.v1.dlq',
      ].sort(),
    );
  });

  it.each<[string, string, string, string, boolean]>([
    ['inventory writes inventory events', 'inventory', 'WRITE', 't1.inventory.events.v1', true],
    ['inventory cannot forge billing events', 'inventory', 'WRITE', 't1.billing.events.v1', false],
    ['metering cannot forge billing events', 'metering', 'WRITE', 't1.billing.events.v1', false],
    ['billing cannot write metering events', 'billing', 'WRITE', 't1.metering.events.v1', false],
    [
      'inventory reads nothing: it subscribes to nothing',
      'inventory',
      'READ',
      't1.allocation.events.v1',
      false,
    ],
    ['metering reads telemetry', 'metering', 'READ', 't1.metering.telemetry.v1', true],
    ['billing does not read telemetry', 'billing', 'READ', 't1.metering.telemetry.v1', false],
    ['allocation reads its Kafka request topic', 'allocation', 'READ', 't1.allocation.place', true],
    ['allocation answers on the reply topic', 'allocation', 'WRITE', 't1.allocation.place.reply', true],
    ['billing cannot answer allocation requests', 'billing', 'WRITE', 't1.allocation.place.reply', false],
    ['telemetry agents produce samples', 'telemetry', 'WRITE', 't1.metering.telemetry.v1', true],
    ['telemetry agents cannot read samples back', 'telemetry', 'READ', 't1.metering.telemetry.v1', false],
    ['telemetry agents cannot write metering events', 'telemetry', 'WRITE', 't1.metering.events.v1', false],
    ['the audit tool reads billing events', 'audit', 'READ', 't1.billing.events.v1', true],
    ['the audit tool reads dead letters', 'audit', 'READ', 't1.metering.events.v1.dlq', true],
    ['the audit tool writes nothing', 'audit', 'WRITE', 't1.billing.events.v1', false],
    ['no grant crosses prefixes', 'billing', 'WRITE', 't2.billing.events.v1', false],
  ])('%s', (_case, user, operation, topic, expected) => {
    expect(allowed(all, user, operation, topic)).toBe(expected);
  });

  it('only billing may write billing events, whoever else is deployed', () => {
    const writers = all
      .filter((b) => b.operation === 'WRITE' && b.resourceName === 't1.billing.events.v1')
      .map((b) => b.principal);
    expect(writers).toEqual(['User:billing']);
  });

  it('every principal writes only topics under its prefix, and groups are prefixed by the user name', () => {
    for (const binding of all) expect(binding.resourceName.startsWith('t1.')).toBe(true);
    const groups = all.filter((b) => b.resourceType === 'GROUP');
    expect(groups.map((g) => `${g.principal} ${g.patternType} ${g.resourceName}`).sort()).toEqual([
      'User:allocation PREFIXED t1.allocation-',
      'User:audit PREFIXED t1.audit-',
      'User:billing PREFIXED t1.billing-',
      'User:inventory PREFIXED t1.inventory-',
      'User:metering PREFIXED t1.metering-',
    ]);
    expect(all.filter((b) => b.resourceType === 'TOPIC').every((b) => b.patternType === 'LITERAL')).toBe(
      true,
    );
  });

  it('with no prefix (production) the names are the bare topic names', () => {
    expect(grants(telemetryAgentAclBindings(), 'telemetry')).toEqual([
      'DESCRIBE TOPIC:metering.telemetry.v1',
      'WRITE TOPIC:metering.telemetry.v1',
    ]);
    expect(grants(auditAclBindings(), 'audit')).toContain('READ TOPIC:billing.events.v1');
    expect(grants(serviceAclBindings('inventory' as KafkaServiceName), 'inventory')).toContain(
      'READ GROUP(prefix):inventory-',
    );
  });

  it('no binding repeats', () => {
    const keys = all.map((b) => JSON.stringify(b));
    expect(new Set(keys).size).toBe(keys.length);
  });
});
