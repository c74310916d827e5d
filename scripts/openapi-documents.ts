import { Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { OpenAPIObject } from '@nestjs/swagger';
import { buildOpenApiDocument, ServiceOptions } from '@fleetledger/platform';
import { AllocationModule } from '../apps/allocation/src/allocation.module';
import { allocationService } from '../apps/allocation/src/allocation.options';
import { BillingModule } from '../apps/billing/src/billing.module';
import { billingService } from '../apps/billing/src/billing.options';
import { InventoryModule } from '../apps/inventory/src/inventory.module';
import { inventoryService } from '../apps/inventory/src/inventory.options';
import { MeteringModule } from '../apps/metering/src/metering.module';
import { meteringService } from '../apps/metering/src/metering.options';

const services: [Type<unknown>, ServiceOptions][] = [
  [InventoryModule, inventoryService],
  [AllocationModule, allocationService],
  [MeteringModule, meteringService],
  [BillingModule, billingService],
];

/** Every service's OpenAPI document, built from its controllers' metadata alone. */
export async function openApiDocuments(): Promise<{ service: string; document: OpenAPIObject }[]> {
  const documents = [];
  for (const [module, options] of services) {
    const app = await NestFactory.create(module, { preview: true, logger: false, abortOnError: false });
    documents.push({ service: options.service, document: buildOpenApiDocument(app, options) });
    await app.close();
  }
  return documents;
}
