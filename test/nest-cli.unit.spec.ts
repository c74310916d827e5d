import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** nest-cli.json describes the monorepo as it is: one project per app and lib, matching tsconfig paths. */
const root = join(__dirname, '..');
const nestCli = JSON.parse(readFileSync(join(root, 'nest-cli.json'), 'utf8')) as {
  monorepo: boolean;
  compilerOptions: { builder: string; webpack: boolean };
  projects: Record<
    string,
    {
      type: string;
      root: string;
      sourceRoot: string;
      entryFile: string;
      compilerOptions: { tsConfigPath: string };
    }
  >;
};
const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as {
  compilerOptions: { paths: Record<string, string[]> };
};
const dirs = (parent: string) => readdirSync(join(root, parent)).sort();

describe('nest-cli.json', () => {
  it('is a monorepo built with tsc (the output layout `npm run build` and the Dockerfile use: dist/apps/<app>/src)', () => {
    expect(nestCli.monorepo).toBe(true);
    expect(nestCli.compilerOptions).toMatchObject({ builder: 'tsc', webpack: false });
  });

  it('has one application per apps/ folder and one library per libs/ folder', () => {
    const byType = (type: string) =>
      Object.entries(nestCli.projects)
        .filter(([, project]) => project.type === type)
        .map(([name]) => name)
        .sort();
    expect(byType('application')).toEqual(dirs('apps'));
    expect(byType('library')).toEqual(dirs('libs'));
  });

  it('points each library at the folder its tsconfig path alias (@fleetledger/<name>) resolves to', () => {
    for (const name of dirs('libs'))
      expect([name, tsconfig.compilerOptions.paths[`@fleetledger/${name}`]]).toEqual([
        name,
        [nestCli.projects[name].sourceRoot],
      ]);
  });

  it.each(Object.entries(nestCli.projects))('%s: entry file and tsconfig exist', (_name, project) => {
    expect(existsSync(join(root, project.sourceRoot, `${project.entryFile}.ts`))).toBe(true);
    expect(existsSync(join(root, project.compilerOptions.tsConfigPath))).toBe(true);
  });
});
