import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { servicePrincipal } from '@fleetledger/contracts';
import { Metrics, runAs, ServiceError } from '@fleetledger/platform';
import { DataSource } from 'typeorm';
import { BILLING_ENV, BillingEnv } from '../billing.config';
import { periodBounds, periodOf } from '../domain/periods';
import { CompletenessQueries } from '../queries/completeness.queries';
import { InvoiceHandler } from './invoice.handler';

export interface AutoFinalizeOutcome {
  invoiceId: string;
  outcome: 'finalized' | 'waiting' | 'already-final';
  /** When waiting: what is still missing, by input. */
  missing?: string[];
}

/**
 * Issue #22: complete drafts finalize on their own when their grace ends. Every tick (and on
 * POST /invoices/finalize-due) each draft of an ended period is judged (domain/completeness.ts); a
 * finalizable one is finalized as the billing service (the principal recorded in the event), at the
 * tick's instant. Idempotent: a draft finalized meanwhile (by finance, another replica, an earlier
 * tick) answers `invoice-finalized`, which changes nothing.
 */
@Injectable()
export class AutoFinalizer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AutoFinalizer.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly invoices: InvoiceHandler,
    private readonly completeness: CompletenessQueries,
    private readonly metrics: Metrics,
    @Inject(BILLING_ENV) private readonly env: BillingEnv,
  ) {}

  onApplicationBootstrap(): void {
    if (this.env.BILLING_AUTO_FINALIZE_INTERVAL_MS <= 0) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = runAs(servicePrincipal('billing'), () => this.finalizeDue(Date.now()))
        .catch((error: Error) =>
          this.logger.error(`auto-finalize failed (retried next tick): ${error.message}`),
        )
        .finally(() => (this.running = undefined));
    }, this.env.BILLING_AUTO_FINALIZE_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  async finalizeDue(nowMs: number): Promise<AutoFinalizeOutcome[]> {
    const drafts = await this.dataSource.query<{ invoice_id: string; tenant_id: string; period: string }[]>(
      `SELECT invoice_id, tenant_id, period FROM billing.invoices WHERE status = 'draft' AND period < $1 ORDER BY period, invoice_id`,
      [periodOf(nowMs)],
    );
    const outcomes: AutoFinalizeOutcome[] = [];
    for (const draft of drafts) {
      if (periodBounds(draft.period).endMs > nowMs) continue;
      const completeness = await this.completeness.of(this.dataSource, draft.tenant_id, draft.period, nowMs);
      if (!completeness.finalizable) {
        outcomes.push({
          invoiceId: draft.invoice_id,
          outcome: 'waiting',
          missing: completeness.missing.map((m) => `${m.input}: ${m.detail}`),
        });
        continue;
      }
      try {
        await this.invoices.finalize(
          draft.tenant_id,
          draft.invoice_id,
          new Date(nowMs).toISOString(),
          { correlationId: `billing-auto-finalize-${draft.invoice_id}` },
          { nowMs },
        );
        outcomes.push({ invoiceId: draft.invoice_id, outcome: 'finalized' });
      } catch (error) {
        if (error instanceof ServiceError && error.code === 'invoice-finalized') {
          outcomes.push({ invoiceId: draft.invoice_id, outcome: 'already-final' });
          continue;
        }
        throw error;
      }
    }
    await this.refreshGauges(nowMs);
    return outcomes;
  }

  private async refreshGauges(nowMs: number): Promise<void> {
    for (const input of ['metering', 'inventory'] as const) {
      const { watermarkMs } = await this.completeness.inputProgress(this.dataSource, input);
      if (watermarkMs === null) continue;
      this.metrics.watermark.set({ input }, watermarkMs / 1000);
      this.metrics.watermarkLag.set({ input }, (nowMs - watermarkMs) / 1000);
    }
  }
}
