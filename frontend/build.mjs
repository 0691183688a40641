// Bundles the web app into ../jupyter_huddle/static/ (served by the extension under
// /huddle/static/). Usage: node build.mjs [--watch] [--dev]
import { build, context } from 'esbuild';
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, '..', 'jupyter_huddle', 'static');
const watch = process.argv.includes('--watch');
const dev = process.argv.includes('--dev') || watch;

/** @type {import('esbuild').BuildOptions} */
const options = {
  entryPoints: { app: join(here, 'src', 'main.ts') },
  bundle: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  outdir,
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  legalComments: 'linked',
  // KaTeX's fonts are referenced by its stylesheet; they become files next to app.css.
  loader: { '.woff2': 'file', '.woff': 'empty', '.ttf': 'empty' },
  assetNames: 'fonts/[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
};

async function clean() {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await copyFile(join(here, 'index.html'), join(outdir, 'index.html'));
}

await clean();
if (watch) {
  const ctx = await context(options);
  await ctx.watch();
  console.log(`watching; writing to ${outdir}`);
} else {
  const result = await build(options);
  const js = (await stat(join(outdir, 'app.js'))).size;
  const css = (await stat(join(outdir, 'app.css'))).size;
  console.log(`built ${outdir}: app.js ${(js / 1024).toFixed(0)} KiB, app.css ${(css / 1024).toFixed(0)} KiB`);
  if (!dev && js > 1.5 * 1024 * 1024) {
    console.error('app.js is over the 1.5 MB budget');
    process.exit(1);
  }
  void result;
}
