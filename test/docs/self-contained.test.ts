import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The project documents itself: README, docs/ and code comments never send a
// reader to files outside the repository, and every relative link in the
// docs leads to a file that exists.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function files(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (ext.test(name)) out.push(p);
  }
  return out;
}

const DOCS = [join(ROOT, 'README.md'), ...files(join(ROOT, 'docs'), /\.md$/), join(ROOT, 'pricing/README.md')].filter(existsSync);
const SOURCES = [...files(join(ROOT, 'src'), /\.ts$/), ...files(join(ROOT, 'deploy'), /./), join(ROOT, 'docker-compose.yml'), join(ROOT, 'Dockerfile')];

describe('documentation', () => {
  it('never points to files outside the repository', () => {
    const offenders = [...DOCS, ...SOURCES].filter((f) => /\.\.\/shared|\/work\/shared|CONTRACT\.md|DESIGN\.md/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('has no relative link to a missing file', () => {
    const broken: string[] = [];
    for (const f of DOCS) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(dirname(f), target))) broken.push(`${relative(ROOT, f)} -> ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('documents every endpoint the server mounts', () => {
    const interfaceDoc = readFileSync(join(ROOT, 'docs/interface.md'), 'utf8');
    const mounted = new Set<string>();
    for (const f of files(join(ROOT, 'src'), /\.ts$/)) {
      for (const m of readFileSync(f, 'utf8').matchAll(/app\.(?:get|post)\('(\/[^']+)'/g)) mounted.add(m[1]!);
    }
    for (const e of ['/v1/chat/completions', '/v1/responses', '/v1/embeddings', '/v1/messages']) mounted.add(e);
    const missing = [...mounted].filter((p) => !p.includes('*') && !interfaceDoc.includes(p.replace(/:id$/, '').replace(/:model$/, '')));
    expect(missing).toEqual([]);
  });
});
