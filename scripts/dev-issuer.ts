// The local development issuer (DESIGN.md 5a): a key pair under .infra/auth, made at `infra:up`, that
// the services trust on a developer's machine, and the way to mint a token for each role.
//   node -r @swc-node/register scripts/dev-issuer.ts ensure          create the key pair once
//   npm run token -- --role operator [--role finance] [--tenant acme] [--subject alice] [--audience billing]
// Never used in Kubernetes: there the cluster's OIDC issuer signs the tokens (docs/deploy.md).
import 'reflect-metadata';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ROLES, Role } from '@fleetledger/contracts';
import {
  DEV_ISSUER,
  ensureDevIssuer,
  mintToken,
  readPrivateJwk,
  serviceAudience,
  SERVICE_NAMES,
} from '@fleetledger/platform';

/** Where the keys live: FLEETLEDGER_AUTH_DIR, or .infra/auth of the checkout it runs in. */
const DEV_AUTH_DIR = path.resolve(process.env.FLEETLEDGER_AUTH_DIR ?? '.infra/auth');

async function main(): Promise<void> {
  const program = new Command('dev-issuer').description('local development token issuer');
  program
    .command('ensure')
    .description('create the key pair under .infra/auth if missing; print the JWKS file')
    .action(async () => {
      const files = await ensureDevIssuer(DEV_AUTH_DIR);
      process.stdout.write(`${files.jwksFile}\n`);
    });
  program
    .command('mint')
    .description('print a bearer token signed by the local issuer')
    .addOption(
      new Option('--role <role...>', 'role(s) of the caller').choices([...ROLES]).makeOptionMandatory(),
    )
    .option('--tenant <tenantId>', 'the tenant (required with --role tenant)')
    .option('--subject <subject>', 'who the caller is', undefined)
    .addOption(
      new Option('--audience <service...>', 'services the token is for (default: all four)').choices([
        ...SERVICE_NAMES,
      ]),
    )
    .option('--ttl <seconds>', 'lifetime in seconds', '3600')
    .action(
      async (options: {
        role: Role[];
        tenant?: string;
        subject?: string;
        audience?: string[];
        ttl: string;
      }) => {
        if (options.role.includes('tenant') && !options.tenant) program.error('--role tenant needs --tenant');
        const files = await ensureDevIssuer(DEV_AUTH_DIR);
        const token = await mintToken(readPrivateJwk(files.privateKeyFile), {
          roles: options.role,
          tenant: options.tenant,
          subject: options.subject,
          audience: (options.audience ?? [...SERVICE_NAMES]).map(serviceAudience),
          expiresInSeconds: Number(options.ttl),
          issuer: DEV_ISSUER,
        });
        process.stdout.write(`${token}\n`);
      },
    );
  await program.parseAsync(process.argv);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
});
