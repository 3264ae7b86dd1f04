import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

import { describe, expect, it } from 'vitest';

import { entryOf, ROUTER_ENTRY, SUBGRAPH_NAMES, SUBGRAPHS } from '../../platform/manifest.js';

const ROOT = resolve(import.meta.dirname, '../..');
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder)).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(join(ROOT, path)).isDirectory())
      return ['__generated__', 'node_modules', 'results'].includes(name) ? [] : sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every module a file imports: relative ones as repository paths (.ts), packages by name. */
function importsOf(file: string): { files: string[]; packages: string[] } {
  const source = readFileSync(join(ROOT, file), 'utf8');
  const specifiers = [
    ...source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*'([^']+)'|import\s*'([^']+)'|import\(\s*`?'?([^'`)]+)/g),
  ]
    .map((match) => match[1] ?? match[2] ?? match[3])
    .filter((specifier): specifier is string => Boolean(specifier) && !specifier.includes('${'));
  const files = specifiers
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => relative(ROOT, resolve(ROOT, dirname(file), specifier)).replace(/\.js$/, '.ts'));
  const packages = specifiers
    .filter((specifier) => !specifier.startsWith('.') && !specifier.startsWith('node:'))
    .map((specifier) =>
      specifier
        .split('/')
        .slice(0, specifier.startsWith('@') ? 2 : 1)
        .join('/'),
    );
  return { files, packages };
}

/** The packages a process loads, following its relative imports from its entry point. */
function packagesLoadedFrom(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const imports = importsOf(file);
    imports.packages.forEach((name) => packages.add(name));
    imports.files.forEach(visit);
  };
  visit(entry);
  return packages;
}

describe('the shape of the tree', () => {
  it('keeps platform/ free of the router and the subgraphs', () => {
    const crossings = sourceFiles('platform').flatMap((file) =>
      importsOf(file)
        .files.filter((target) => !target.startsWith('platform/'))
        .map((target) => `${file} -> ${target}`),
    );
    expect(crossings).toEqual([]);
  });

  it('keeps each subgraph to itself and the platform', () => {
    const crossings = SUBGRAPH_NAMES.flatMap((name) =>
      sourceFiles(`subgraphs/${name}`).flatMap((file) =>
        importsOf(file)
          .files.filter((target) => !target.startsWith(`subgraphs/${name}/`) && !target.startsWith('platform/'))
          .map((target) => `${file} -> ${target}`),
      ),
    );
    expect(crossings).toEqual([]);
  });

  it('keeps the router off the subgraphs’ internals', () => {
    const crossings = sourceFiles('router').flatMap((file) =>
      importsOf(file)
        .files.filter((target) => target.startsWith('subgraphs/'))
        .map((target) => `${file} -> ${target}`),
    );
    expect(crossings).toEqual([]);
  });

  it('depends one way: what ships needs neither tests nor benchmarks, and tests need no benchmark', () => {
    // Benchmarks may use the tests' client helpers (tests/support); the reverse would make a cycle.
    const shipped = ['platform', 'router', 'subgraphs', 'schema', 'migrations', 'tools', 'scripts'];
    const crossings = [
      ...shipped.flatMap((folder) => sourceFiles(folder)).map((file) => [file, /^(tests|bench)\//] as const),
      ...sourceFiles('tests').map((file) => [file, /^bench\//] as const),
    ].flatMap(([file, forbidden]) =>
      importsOf(file)
        .files.filter((target) => forbidden.test(target))
        .map((target) => `${file} -> ${target}`),
    );
    expect(crossings).toEqual([]);
  });

  it('lists in the manifest exactly the queues each subgraph consumes (operators’ tools read them from there)', () => {
    for (const { name, queues } of SUBGRAPHS) {
      const declared = sourceFiles(`subgraphs/${name}/src`).flatMap((file) =>
        [...readFileSync(join(ROOT, file), 'utf8').matchAll(/\bqueue: '([\w.-]+)'/g)].map(([, queue]) => queue),
      );
      expect(declared.sort(), name).toEqual([...queues].sort());
    }
  });

  it.each([ROUTER_ENTRY, ...SUBGRAPH_NAMES.map(entryOf)])('loads no devDependency at run time from %s', (entry) => {
    const loaded = [...packagesLoadedFrom(entry)];
    expect(loaded.length).toBeGreaterThan(3);
    expect(loaded.filter((name) => name in packageJson.devDependencies)).toEqual([]);
  });

  it('ships operators’ tools (tools/, in the image) that load no devDependency either', () => {
    const loaded = [...new Set(sourceFiles('tools').flatMap((tool) => [...packagesLoadedFrom(tool)]))];
    expect(loaded.length).toBeGreaterThan(3);
    expect(loaded.filter((name) => name in packageJson.devDependencies)).toEqual([]);
  });
});
