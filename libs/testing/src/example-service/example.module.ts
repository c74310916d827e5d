// A complete miniature service, the pattern every FleetLedger service follows:
// controller (validate) -> handler (load stream, decide, append + outbox + inline projection in ONE transaction).
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common';
import { Topics } from '@fleetledger/contracts';
import {
  eventStoreMigrations,
  EventStore,
  Projection,
  Queryable,
  runInTransaction,
} from '@fleetledger/eventstore';
import {
  Allow,
  CorrelationId,
  Messaging,
  Metrics,
  PlatformModule,
  ServiceError,
  ServiceOptions,
} from '@fleetledger/platform';
import { createZodDto } from 'nestjs-zod';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { z } from 'zod';
import { AccountCommand, decide, evolve, exampleRegistry, initialAccount } from './account';

class CreateAccounts1764000000001 implements MigrationInterface {
  name = 'CreateAccounts1764000000001';
  async up(q: QueryRunner) {
    await q.query(
      `CREATE TABLE example.accounts (account_id text PRIMARY KEY, owner text NOT NULL, balance_minor bigint NOT NULL)`,
    );
  }
  async down(q: QueryRunner) {
    await q.query(`DROP TABLE example.accounts`);
  }
}

export const accountsProjection: Projection = {
  name: 'accounts',
  source: { kind: 'log' },
  tables: ['accounts'],
  async apply(tx: Queryable, event, schema) {
    const p = event.payload as { accountId: string; owner?: string; amountMinor?: number };
    if (event.type === 'AccountOpened') {
      await tx.query(`INSERT INTO "${schema}".accounts VALUES ($1, $2, 0)`, [p.accountId, p.owner]);
    } else if (event.type === 'DepositMade') {
      await tx.query(
        `UPDATE "${schema}".accounts SET balance_minor = balance_minor + $2 WHERE account_id = $1`,
        [p.accountId, p.amountMinor],
      );
    }
  },
  // Replay fast path: opens in one insert, deposits summed per account in one update. Same result
  // as one-by-one, because an account's deposits only ever follow its opening.
  async applyBatch(tx: Queryable, events, schema) {
    const opened = events
      .filter((e) => e.type === 'AccountOpened')
      .map((e) => e.payload as { accountId: string; owner: string });
    const deposits = new Map<string, number>();
    for (const e of events) {
      if (e.type !== 'DepositMade') continue;
      const p = e.payload as { accountId: string; amountMinor: number };
      deposits.set(p.accountId, (deposits.get(p.accountId) ?? 0) + p.amountMinor);
    }
    if (opened.length > 0) {
      await tx.query(
        `INSERT INTO "${schema}".accounts SELECT a, o, 0 FROM unnest($1::text[], $2::text[]) AS t(a, o)`,
        [opened.map((o) => o.accountId), opened.map((o) => o.owner)],
      );
    }
    if (deposits.size > 0) {
      await tx.query(
        `UPDATE "${schema}".accounts SET balance_minor = balance_minor + d.amount
           FROM unnest($1::text[], $2::bigint[]) AS d(account_id, amount) WHERE accounts.account_id = d.account_id`,
        [[...deposits.keys()], [...deposits.values()]],
      );
    }
  },
};

export const exampleService: ServiceOptions = {
  service: 'example',
  schema: 'example',
  migrations: [...eventStoreMigrations('example', 1764000000000), CreateAccounts1764000000001],
  registry: exampleRegistry,
  eventsTopic: Topics.inventoryEvents,
  projections: [accountsProjection],
};

@Injectable()
export class AccountsHandler {
  constructor(
    private readonly dataSource: DataSource,
    private readonly store: EventStore,
    private readonly messaging: Messaging,
    private readonly metrics: Metrics,
  ) {}

  async handle(command: AccountCommand, correlationId: string) {
    const streamId = `account-${command.accountId}`;
    return runInTransaction(this.dataSource, async (tx) => {
      const history = await this.store.readStream(tx, streamId);
      const decision = decide(history.reduce(evolve, initialAccount), command);
      if (!Array.isArray(decision))
        throw new ServiceError(decision.reason, decision.detail, decision.reason === 'not-open' ? 404 : 409);
      const appended = await this.store.append(tx, streamId, history.length, decision, {
        correlationId,
        topic: this.messaging.eventsTopic,
      });
      for (const event of appended) {
        await accountsProjection.apply(tx, event, this.store.schema);
        this.metrics.eventsAppended.inc({ type: event.type });
      }
      return appended;
    });
  }
}

class OpenAccountDto extends createZodDto(
  z.object({ accountId: z.string().regex(/^[a-z0-9-]+$/), owner: z.string().min(1) }),
) {}
class DepositDto extends createZodDto(
  z.object({ amountMinor: z.number().int().positive(), at: z.iso.datetime() }),
) {}

/** The example service's callers: operators (its tests call as the test caller). */
@Allow('operator')
@Controller('accounts')
export class AccountsController {
  constructor(
    private readonly handler: AccountsHandler,
    private readonly dataSource: DataSource,
  ) {}

  @Post()
  async open(@Body() body: OpenAccountDto, @CorrelationId() correlationId: string) {
    const [event] = await this.handler.handle(
      { kind: 'open', ...body, at: '2026-11-01T00:00:00Z' },
      correlationId,
    );
    return { eventId: event.eventId, streamVersion: event.streamVersion };
  }

  @Post(':accountId/deposits')
  @HttpCode(201)
  async deposit(
    @Param('accountId') accountId: string,
    @Body() body: DepositDto,
    @CorrelationId() correlationId: string,
  ) {
    const [event] = await this.handler.handle({ kind: 'deposit', accountId, ...body }, correlationId);
    return { eventId: event.eventId, streamVersion: event.streamVersion };
  }

  @Get(':accountId')
  async get(@Param('accountId') accountId: string) {
    const [row] = await this.dataSource.query(
      `SELECT account_id, owner, balance_minor FROM example.accounts WHERE account_id = $1`,
      [accountId],
    );
    if (!row) throw new NotFoundException(`no account ${accountId}`);
    return { accountId: row.account_id, owner: row.owner, balanceMinor: Number(row.balance_minor) };
  }
}

@Module({
  imports: [PlatformModule.forService(exampleService)],
  controllers: [AccountsController],
  providers: [AccountsHandler],
})
export class ExampleModule {}
