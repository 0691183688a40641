// Bundles the web app into ../jupyter_huddle/static/ (served by the extension under
// /huddle/static/). Usage: node build.mjs [--watch] [--dev]
//
// Two bundles: app.js (+ app.css), the page, and widgets.js (+ widgets.css), the Jupyter
// widget libraries, which app.js loads with a dynamic import only when a notebook has a
// widget output (views/widgets.ts). app.js must stay under its budget and must not
// contain the widget libraries.
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
  entryPoints: { app: join(here, 'src', 'main.ts'), widgets: join(here, 'src', 'widgets', 'main.ts') },
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
  const size = async (name) => (await stat(join(outdir, name))).size;
  const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
  const [js, css, widgetsJs, widgetsCss] = await Promise.all(['app.js', 'app.css', 'widgets.js', 'widgets.css'].map(size));
  console.log(`built ${outdir}: app.js ${kib(js)}, app.css ${kib(css)}; widgets.js ${kib(widgetsJs)}, widgets.css ${kib(widgetsCss)} (loaded only for notebooks with widgets)`);
  const failures = [];
  if (!dev && js > 1.5 * 1024 * 1024) failures.push('app.js is over the 1.5 MB budget');
  // A sanity bound: the widget libraries are ~1 MB minified; far more means something
  // unintended (a second copy, a whole renderer) came along.
  if (!dev && widgetsJs > 3 * 1024 * 1024) failures.push('widgets.js is over its 3 MB budget');
  const appInputs = Object.entries(result.metafile.outputs)
    .find(([file]) => file.endsWith('/app.js'))?.[1].inputs ?? {};
  const leaked = Object.keys(appInputs).filter((input) => /node_modules\/(@jupyter-widgets|@lumino\/widgets|backbone|jquery)\//.test(input));
  if (leaked.length > 0) failures.push(`app.js contains widget libraries (they belong in widgets.js): ${leaked.slice(0, 3).join(', ')}`);
  for (const failure of failures) console.error(failure);
  if (failures.length > 0) process.exit(1);
}
