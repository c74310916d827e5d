// Creates the database named in DATABASE_URL if it does not exist yet (connects to `postgres` to do so).
const { Client } = require('pg');

async function main() {
  const target = new URL(process.env.DATABASE_URL);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unsupported database name ${name}`);
  const admin = new URL(target.toString());
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE ${name}`);
      process.stderr.write(`[postgres] created database ${name}\n`);
    }
  } finally {
    await client.end();
  }
}

main().catch((error) => {
  process.stderr.write(`[postgres] ${error.message}\n`);
  process.exit(1);
});
