#!/usr/bin/env node
// The finance audit CLI: npm run audit -- <command> --help
import 'reflect-metadata';
import { Command, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { DataSource } from 'typeorm';
import { auditedServices } from './services';
import { diffInvoiceTotals, invoiceTotals, reconcileServices, replayServices } from './replay';
import { explainInvoice, formatExplanation, summarizeExplanation } from './explain';
import { writeReport } from './report';
import { verifyAll } from './verify';

const program = new Command()
  .name('fleetledger-audit')
  .description('Verify, replay and reconcile FleetLedger from its event logs (read-only on live tables).')
  .addOption(
    new Option('--database-url <url>', 'the database holding the service schemas')
      .env('DATABASE_URL')
      .makeOptionMandatory(),
  )
  .option('--json', 'print the machine-readable report instead of text');

function servicesFor(name?: string) {
  if (!name) return auditedServices;
  const found = auditedServices.filter((s) => s.service === name);
  if (found.length === 0)
    throw new Error(`unknown service ${name}; one of ${auditedServices.map((s) => s.service).join(', ')}`);
  return found;
}

async function withDatabase<T>(work: (dataSource: DataSource) => Promise<T>): Promise<T> {
  const dataSource = new DataSource({ type: 'postgres', url: program.opts().databaseUrl, extra: { max: 4 } });
  await dataSource.initialize();
  try {
    return await work(dataSource);
  } finally {
    await dataSource.destroy();
  }
}

function print(text: string) {
  process.stdout.write(`${text}\n`);
}

program
  .command('verify')
  .description(
    "check every service's hash chain and that each published event was consumed once by each subscriber",
  )
  .option('--service <name>', 'only this service')
  .action(async (options: { service?: string }) => {
    const report = await withDatabase((db) => verifyAll(db, servicesFor(options.service)));
    if (program.opts().json) print(JSON.stringify(report, null, 2));
    else {
      for (const chain of report.chains) {
        const v = chain.verification;
        print(
          `${v.ok ? 'ok  ' : 'FAIL'} ${chain.service}: ${v.eventsChecked} events chained, ${v.pending ?? 0} not yet sealed (pending, not broken), ${chain.unpublishedOutbox} waiting in outbox` +
            (v.firstBreak ? `; first broken link: ${JSON.stringify(v.firstBreak)}` : ''),
        );
        for (const p of chain.principals)
          print(`       by ${p.subject} [${p.roles.join(',')}]: ${p.events} events`);
      }
      for (const d of report.deliveries) {
        const ok = d.missing.length === 0 && d.unknown.length === 0;
        print(
          `${ok ? 'ok  ' : 'FAIL'} ${d.topic} -> ${d.consumer}: ${d.published} published, ${d.consumed} consumed` +
            (d.missing.length ? `; not consumed: ${d.missing.join(', ')}` : '') +
            (d.unknown.length ? `; never published: ${d.unknown.join(', ')}` : ''),
        );
      }
    }
    process.exitCode = report.ok ? 0 : 1;
  });

program
  .command('replay')
  .description('rebuild projections from position 0 (or as of a time) into <schema>_replay; resumable')
  .option('--service <name>', 'only this service')
  .option('--as-of <timestamp>', 'replay only events recorded up to this ISO timestamp')
  .option('--resume', 'continue an interrupted replay from its checkpoint')
  .action(async (options: { service?: string; asOf?: string; resume?: boolean }) => {
    if (options.asOf && Number.isNaN(Date.parse(options.asOf)))
      throw new Error(`--as-of is not a timestamp: ${options.asOf}`);
    const bar = new SingleBar(
      {
        format:
          '{service}/{projection} [{bar}] {percentage}% | {value}/{total} events | {rate} ev/s | ETA {eta}s',
      },
      Presets.shades_classic,
    );
    let current = '';
    let started = Date.now();
    const results = await withDatabase((db) =>
      replayServices(db, servicesFor(options.service), {
        asOf: options.asOf ? new Date(options.asOf).toISOString() : undefined,
        resume: options.resume,
        onProgress: (service, p) => {
          const key = `${service}/${p.projection}`;
          if (key !== current) {
            if (current) bar.stop();
            current = key;
            started = Date.now();
            bar.start(p.totalEvents, 0, { service, projection: p.projection, rate: 0 });
          }
          const seconds = Math.max((Date.now() - started) / 1000, 0.001);
          bar.update(p.eventsApplied, { rate: Math.round(p.eventsApplied / seconds) });
        },
      }),
    );
    if (current) bar.stop();
    for (const r of results)
      print(
        `${r.service}/${r.projection}: ${r.eventsApplied} events into ${r.targetSchema} in ${r.durationMs} ms`,
      );
  });

program
  .command('reconcile')
  .description('compare replayed projections with the live ones, row by row; exits 1 on any difference')
  .option('--service <name>', 'only this service')
  .option('--period <YYYY-MM>', 'reprint the invoice totals of this month from the replay')
  .action(async (options: { service?: string; period?: string }) => {
    const checkInvoices = !options.service || options.service === 'billing';
    const [results, liveInvoices, replayedInvoices] = await withDatabase(
      async (db) =>
        [
          await reconcileServices(db, servicesFor(options.service)),
          checkInvoices ? await invoiceTotals(db, 'billing', options.period) : [],
          checkInvoices ? await invoiceTotals(db, 'billing_replay', options.period) : [],
        ] as const,
    );
    let equal = true;
    for (const r of results) {
      for (const t of r.tables) {
        equal &&= t.equal;
        print(
          `${t.equal ? 'ok  ' : 'DIFF'} ${r.service}.${t.table}: live ${t.liveRows} rows, replayed ${t.rebuiltRows} rows`,
        );
      }
      for (const d of r.differences)
        print(`     ${d.side} ${r.service}.${d.table}: ${JSON.stringify(d.row)}`);
    }
    // Every invoice total reprinted from the replay (a draft's as its preview), next to the live one.
    const invoiceDifferences = diffInvoiceTotals(liveInvoices, replayedInvoices);
    const differing = new Set(invoiceDifferences.map((d) => d.invoiceId));
    equal &&= invoiceDifferences.length === 0;
    for (const invoice of replayedInvoices) {
      const live = liveInvoices.find((l) => l.invoiceId === invoice.invoiceId);
      print(
        `${differing.has(invoice.invoiceId) ? 'DIFF' : 'ok  '} invoice ${invoice.invoiceNumber ?? '(draft)'} ${invoice.invoiceId} ${invoice.tenantId} ${invoice.period} ${invoice.status}: ` +
          `${invoice.totalMinor} minor units replayed (${invoice.totalKind}), live ${live?.totalMinor ?? 'missing'}`,
      );
    }
    for (const d of invoiceDifferences.filter((d) => !d.replayed))
      print(`DIFF invoice ${d.invoiceId}: live ${d.live?.totalMinor}, missing from the replay`);
    if (program.opts().json)
      print(JSON.stringify({ results, replayedInvoices, invoiceDifferences }, null, 2));
    process.exitCode = equal ? 0 : 1;
  });

program
  .command('explain')
  .description(
    'show the chain behind an invoice: lines, usage, placements, raw samples, lease and rate-plan events',
  )
  .argument('<what>', 'what to explain: invoice')
  .argument('<number>', 'the invoice number')
  .option('--line <n>', 'only this line')
  .option('--full', 'every event id, placement and sample id (default: a summary per line)')
  .action(async (what: string, number: string, options: { line?: string; full?: boolean }) => {
    if (what !== 'invoice') throw new Error(`can only explain an invoice, not ${what}`);
    const explanation = await withDatabase((db) =>
      explainInvoice(db, Number(number), options.line === undefined ? undefined : Number(options.line)),
    );
    const full = options.full === true;
    if (program.opts().json)
      print(JSON.stringify(full ? explanation : summarizeExplanation(explanation), null, 2));
    else print(formatExplanation(explanation, { full }));
  });

program
  .command('report')
  .description('write a human-readable audit report for a month: HTML with charts, plus CSV extracts')
  .requiredOption('--period <YYYY-MM>', 'the calendar month')
  .requiredOption('--out <dir>', 'directory to write index.html and the CSV files into')
  .action(async (options: { period: string; out: string }) => {
    const files = await withDatabase((db) =>
      writeReport(db, options.period, options.out, new Date().toISOString()),
    );
    for (const file of files) print(`wrote ${file}`);
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`audit: ${(error as Error).message}\n`);
  process.exitCode = 2;
});
