import { DataSource } from 'typeorm';
import { EventStore } from './event-store';
import { runInTransaction } from './transaction';

export interface LogSealerOptions {
  batchSize?: number;
  idleDelayMs?: number;
  onError?: (error: unknown) => void;
  onSealed?: (count: number) => void;
}

/**
 * Runs behind the writers of one event log: moves the horizon (so readers see what has committed) and links
 * the events below it into the hash chain, one batch per transaction. A sealer killed mid-batch loses only
 * its open transaction; the next one starts from the sealed head. One sealer per log works at a time: the
 * others find the advisory lock taken and wait for their next turn.
 */
export class LogSealer {
  private running = false;
  private loop?: Promise<void>;
  private readonly lockKey: string;

  constructor(
    private readonly dataSource: DataSource,
    private readonly store: EventStore,
    private readonly options: LogSealerOptions = {},
  ) {
    this.lockKey = `sealer:${store.schema}`;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Moves the horizon, then seals one batch; returns how many events it sealed. */
  async sealOnce(): Promise<number> {
    await this.store.advanceHorizon(this.dataSource);
    const sealed = await runInTransaction(this.dataSource, async (tx) => {
      const [{ locked }] = await tx.query(`SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked`, [
        this.lockKey,
      ]);
      return locked ? this.store.sealBatch(tx, this.options.batchSize ?? 5000) : 0;
    });
    if (sealed > 0) this.options.onSealed?.(sealed);
    return sealed;
  }

  /** Seals everything committed by now (waiting, bounded, until the horizon reaches it). */
  async sealAll(): Promise<number> {
    await this.store.awaitHorizon(this.dataSource, await this.store.headPosition(this.dataSource));
    let total = 0;
    for (let n = await this.sealOnce(); n > 0; n = await this.sealOnce()) total += n;
    return total;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const sealed = await this.sealOnce();
        if (sealed === 0) await sleep(this.options.idleDelayMs ?? 50);
      } catch (error) {
        this.options.onError?.(error);
        await sleep(1000);
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
