import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ActingTenant, Allow, CorrelationId } from '@fleetledger/platform';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { AutoFinalizer } from '../handlers/auto-finalizer';
import { InvoiceHandler } from '../handlers/invoice.handler';
import { InvoiceQueries } from '../queries/invoice.queries';

class FinalizeDto extends createZodDto(
  z.object({
    finalizedAt: z.iso.datetime({ offset: true }),
    /** Issue #22: finalize an incomplete draft anyway, with a written reason (shown on the invoice and in the audit). */
    force: z.object({ reason: z.string().trim().min(10).max(2000) }).optional(),
  }),
) {}
class CreditNoteDto extends createZodDto(
  z.object({
    /** Positive amount to credit, in minor units, as a string of digits. */
    amountMinor: z.string().regex(/^[1-9]\d*$/),
    reason: z.string().min(1).max(2000),
    issuedAt: z.iso.datetime({ offset: true }),
  }),
) {}
class ListQueryDto extends createZodDto(
  z.object({
    period: z
      .string()
      .regex(/^\d{4}-\d{2}$/)
      .optional(),
  }),
) {}

@ApiTags('invoices')
@ApiHeader({
  name: 'x-tenant-id',
  required: false,
  description:
    "finance and operators: the tenant acted for. A tenant's own token names its tenant; naming another answers 403. Other tenants' invoices answer 404",
})
@Controller('invoices')
export class InvoicesController {
  constructor(
    private readonly queries: InvoiceQueries,
    private readonly handler: InvoiceHandler,
    private readonly autoFinalizer: AutoFinalizer,
  ) {}

  @Get()
  @Allow('tenant', 'finance', 'operator')
  @ApiOperation({ summary: "the caller's invoices, optionally of one period (YYYY-MM)" })
  list(@ActingTenant() tenantId: string, @Query() query: ListQueryDto) {
    return this.queries.list(tenantId, query.period);
  }

  @Get(':invoiceId')
  @Allow('tenant', 'finance', 'operator')
  @ApiOperation({ summary: 'an invoice with its lines (a preview while draft) and credit notes' })
  get(@ActingTenant() tenantId: string, @Param('invoiceId') invoiceId: string) {
    return this.queries.get(tenantId, invoiceId);
  }

  @Get(':invoiceId/lines/:lineId/source-events')
  @Allow('tenant', 'finance', 'operator')
  @ApiOperation({ summary: 'the events an invoice line came from' })
  sourceEvents(
    @ActingTenant() tenantId: string,
    @Param('invoiceId') invoiceId: string,
    @Param('lineId') lineId: string,
  ) {
    return this.queries.sourceEvents(tenantId, invoiceId, lineId);
  }

  @Post(':invoiceId/finalize')
  @HttpCode(200)
  @Allow('finance')
  @ApiOperation({
    summary:
      'freeze the draft under the next gap-free invoice number (finance); 409 period-incomplete names each missing input unless the period is complete and its grace elapsed, or `force.reason` says why anyway',
  })
  async finalize(
    @ActingTenant() tenantId: string,
    @Param('invoiceId') invoiceId: string,
    @Body() body: FinalizeDto,
    @CorrelationId() correlationId: string,
  ) {
    await this.handler.finalize(
      tenantId,
      invoiceId,
      body.finalizedAt,
      { correlationId },
      { forceReason: body.force?.reason },
    );
    return this.queries.get(tenantId, invoiceId);
  }

  @Post('finalize-due')
  @HttpCode(200)
  @Allow('finance', 'operator', 'service')
  @ApiOperation({
    summary:
      'finalize now every complete draft whose grace has ended (what the scheduler does every BILLING_AUTO_FINALIZE_INTERVAL_MS); lists what still waits and why',
  })
  async finalizeDue() {
    return { outcomes: await this.autoFinalizer.finalizeDue(Date.now()) };
  }

  @Post(':invoiceId/credit-notes')
  @Allow('finance')
  @ApiOperation({ summary: 'credit part of a finalized invoice (the invoice itself never changes; finance)' })
  async creditNote(
    @ActingTenant() tenantId: string,
    @Param('invoiceId') invoiceId: string,
    @Body() body: CreditNoteDto,
    @CorrelationId() correlationId: string,
  ) {
    await this.handler.grantCredit(
      tenantId,
      invoiceId,
      BigInt(body.amountMinor),
      body.reason,
      body.issuedAt,
      { correlationId },
    );
    return this.queries.get(tenantId, invoiceId);
  }
}
