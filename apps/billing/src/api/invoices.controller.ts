import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CorrelationId } from '@fleetledger/platform';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { InvoiceHandler } from '../handlers/invoice.handler';
import { InvoiceQueries } from '../queries/invoice.queries';
import { TenantId } from './tenant';

class FinalizeDto extends createZodDto(z.object({ finalizedAt: z.iso.datetime({ offset: true }) })) {}
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
  required: true,
  description: "the calling tenant; other tenants' invoices answer 404",
})
@Controller('invoices')
export class InvoicesController {
  constructor(
    private readonly queries: InvoiceQueries,
    private readonly handler: InvoiceHandler,
  ) {}

  @Get()
  @ApiOperation({ summary: "the caller's invoices, optionally of one period (YYYY-MM)" })
  list(@TenantId() tenantId: string, @Query() query: ListQueryDto) {
    return this.queries.list(tenantId, query.period);
  }

  @Get(':invoiceId')
  @ApiOperation({ summary: 'an invoice with its lines (a preview while draft) and credit notes' })
  get(@TenantId() tenantId: string, @Param('invoiceId') invoiceId: string) {
    return this.queries.get(tenantId, invoiceId);
  }

  @Get(':invoiceId/lines/:lineId/source-events')
  @ApiOperation({ summary: 'the events an invoice line came from' })
  sourceEvents(
    @TenantId() tenantId: string,
    @Param('invoiceId') invoiceId: string,
    @Param('lineId') lineId: string,
  ) {
    return this.queries.sourceEvents(tenantId, invoiceId, lineId);
  }

  @Post(':invoiceId/finalize')
  @HttpCode(200)
  @ApiOperation({ summary: 'freeze the draft under the next gap-free invoice number' })
  async finalize(
    @TenantId() tenantId: string,
    @Param('invoiceId') invoiceId: string,
    @Body() body: FinalizeDto,
    @CorrelationId() correlationId: string,
  ) {
    await this.handler.finalize(tenantId, invoiceId, body.finalizedAt, { correlationId });
    return this.queries.get(tenantId, invoiceId);
  }

  @Post(':invoiceId/credit-notes')
  @ApiOperation({ summary: 'credit part of a finalized invoice (the invoice itself never changes)' })
  async creditNote(
    @TenantId() tenantId: string,
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
