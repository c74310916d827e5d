// Writes each service's OpenAPI document to docs/openapi/<service>.json, without a database or broker:
// Nest's preview mode builds the module graph without instantiating providers.
//   npm run openapi            write the documents
//   npm run openapi -- --check exit 1 if a committed document is stale
import 'reflect-metadata';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { openApiDocuments } from './openapi-documents';

async function main() {
  const check = process.argv.includes('--check');
  const dir = path.resolve(__dirname, '../docs/openapi');
  mkdirSync(dir, { recursive: true });
  let stale = 0;
  for (const { service, document } of await openApiDocuments()) {
    const file = path.join(dir, `${service}.json`);
    const text = `${JSON.stringify(document, null, 2)}\n`;
    if (check) {
      if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
        stale += 1;
        process.stderr.write(`stale: docs/openapi/${service}.json (run npm run openapi)\n`);
      }
    } else {
      writeFileSync(file, text);
      process.stdout.write(
        `wrote docs/openapi/${service}.json (${Object.keys(document.paths).length} paths)\n`,
      );
    }
  }
  process.exitCode = stale ? 1 : 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exitCode = 2;
});
