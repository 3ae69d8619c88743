// The web client's module walls (web/README.md), kept by a machine: imports only go down.
// A role folder (home, lesson, admin, leader, log, account, and any folder added beside them)
// imports lib/ and its own files, never another role; lib/ imports only lib/; app.js imports
// lib/ and each role's index.js. Also: every page's scripts and styles exist, every module is
// loaded by a page, and the JSDoc types check (tsc -p web/tsconfig.json). Plain Node: no
// browser, no server.
//
// Imports are read with TypeScript's own pre-processor (static `import`/`export ... from` and
// dynamic `import()`, never text in strings or comments), plus the `import('...')` types of
// JSDoc comments, which tie modules together just as much.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const WEB = fileURLToPath(new URL('../../../web/', import.meta.url));
const JS = join(WEB, 'js');

/** Every .js file below `dir`, as paths relative to web/js with `/` separators. @param {string} dir */
function modules(dir = JS) {
  /** @type {string[]} */
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...modules(path));
    else if (name.endsWith('.js')) out.push(relative(JS, path).split(sep).join('/'));
  }
  return out.sort();
}

/**
 * A module's imports: `code` are those the browser loads, `types` those of JSDoc comments.
 * @param {string} source
 */
function importsOf(source) {
  const code = ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
  const types = [...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]);
  return { code, types };
}

/** The folder a module lives in below web/js: '' for app.js, else its first segment. @param {string} path */
function folderOf(path) {
  return path.includes('/') ? path.slice(0, path.indexOf('/')) : '';
}

/**
 * Why `from` may not import `to` (paths relative to web/js), or null when it may.
 * @param {string} from
 * @param {string} to
 * @returns {string | null}
 */
function refusal(from, to) {
  const a = folderOf(from);
  const b = folderOf(to);
  if (b === 'lib') return null; // lib/ is below everything
  if (a === 'lib') return 'lib/ imports only lib/';
  if (a === '') return b === '' || to === `${b}/index.js` ? null : `app.js imports a role only through its index.js (${b}/index.js)`;
  if (b === '') return 'a role folder never imports app.js (upward)';
  return a === b ? null : `${a}/ imports lib/ and ${a}/ only, never another role (${b}/)`;
}

/** Every broken rule, as "file: import 'spec' (why)". */
function violations() {
  /** @type {string[]} */
  const found = [];
  for (const from of modules()) {
    const { code, types } = importsOf(readFileSync(join(JS, from), 'utf8'));
    for (const spec of new Set([...code, ...types])) {
      const say = (/** @type {string} */ why) => found.push(`${from}: import '${spec}' (${why})`);
      if (!spec.startsWith('./') && !spec.startsWith('../')) {
        say('a relative path, please: no bundler, and the rule reads only relative paths');
        continue;
      }
      const target = normalize(join(dirname(join(JS, from)), spec));
      const to = relative(JS, target).split(sep).join('/');
      if (to.startsWith('../')) say('outside web/js');
      else if (!existsSync(target)) say('no such file');
      else {
        const why = refusal(from, to);
        if (why) say(why);
      }
    }
  }
  return found;
}

/** The local files a page loads: `<script src>` and `<link href>` that start with `/`. @param {string} page */
function pageAssets(page) {
  const html = readFileSync(join(WEB, page), 'utf8');
  const scripts = [...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]);
  const links = [...html.matchAll(/<link\b[^>]*\bhref="(\/[^"]+)"/g)].map((m) => m[1]);
  return { scripts, links };
}

const PAGES = readdirSync(WEB).filter((n) => n.endsWith('.html')).sort();

describe('web client modules', () => {
  it('finds the modules and their imports', () => {
    const all = modules();
    assert.ok(all.includes('app.js') && all.includes('lib/api.js') && all.length > 20, all.join(', '));
    const { code, types } = importsOf("import { a } from './a.js';\nexport { b } from '../lib/b.js';\n"
      + "/** @typedef {import('./c.js').C} C */\nconst s = \"from './not-an-import.js'\";\n");
    assert.deepEqual(code, ['./a.js', '../lib/b.js']);
    assert.deepEqual(types, ['./c.js']);
  });

  it('knows which imports go down', () => {
    assert.equal(refusal('admin/users.js', 'lib/api.js'), null);
    assert.equal(refusal('admin/users.js', 'admin/api.js'), null);
    assert.equal(refusal('app.js', 'admin/index.js'), null);
    assert.equal(refusal('lib/widgets.js', 'lib/dom.js'), null);
    assert.match(refusal('admin/users.js', 'account/index.js') || '', /never another role/);
    assert.match(refusal('leader/index.js', 'admin/people.js') || '', /never another role/);
    assert.match(refusal('lib/widgets.js', 'admin/api.js') || '', /lib\/ imports only lib/);
    assert.match(refusal('home/index.js', 'app.js') || '', /upward/);
    assert.match(refusal('app.js', 'home/readiness.js') || '', /index\.js/);
  });

  it('imports only go down: no sideways or upward import in web/js', () => {
    assert.deepEqual(violations(), []);
  });

  it("every page's scripts and styles exist, and every module is loaded by a page", () => {
    /** @type {string[]} */
    const entries = [];
    for (const page of PAGES) {
      const { scripts, links } = pageAssets(page);
      assert.ok(scripts.length > 0, `${page} loads no script`);
      for (const src of [...scripts, ...links]) {
        assert.ok(existsSync(join(WEB, src)), `${page} loads ${src}, which is not in web/`);
      }
      for (const src of scripts) entries.push(relative(JS, join(WEB, src)).split(sep).join('/'));
    }
    const loaded = new Set();
    const queue = [...entries];
    while (queue.length > 0) {
      const path = /** @type {string} */ (queue.pop());
      if (loaded.has(path)) continue;
      loaded.add(path);
      const { code } = importsOf(readFileSync(join(JS, path), 'utf8'));
      for (const spec of code) queue.push(relative(JS, normalize(join(dirname(join(JS, path)), spec))).split(sep).join('/'));
    }
    assert.deepEqual(modules().filter((m) => !loaded.has(m)), [], 'modules no page loads');
  });

  it('type-checks: tsc -p web/tsconfig.json is clean', () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    try {
      execFileSync(process.execPath, [tsc, '-p', join(WEB, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      const e = /** @type {{stdout?: string, stderr?: string}} */ (err);
      assert.fail(`tsc found errors in web/js:\n${e.stdout || ''}${e.stderr || ''}`);
    }
  });
});
