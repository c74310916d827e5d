import { readFileSync } from 'node:fs';
import path from 'node:path';
import { openApiDocuments } from '../scripts/openapi-documents';

// Callers read the committed specs under docs/openapi without running anything, so they must match the code.
describe('committed OpenAPI documents', () => {
  it('match what the services generate (run `npm run openapi` after changing an API)', async () => {
    const documents = await openApiDocuments();
    expect(documents.map((d) => d.service)).toEqual(['inventory', 'allocation', 'metering', 'billing']);
    for (const { service, document } of documents) {
      const committed = JSON.parse(
        readFileSync(path.resolve(__dirname, `../docs/openapi/${service}.json`), 'utf8'),
      );
      expect({ service, document: committed }).toEqual({
        service,
        document: JSON.parse(JSON.stringify(document)),
      });
      expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/health/live', '/health/ready']));
    }
  });
});
