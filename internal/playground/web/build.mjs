// Bundles GraphiQL and the playground's code into ../dist/graphiql.js and
// ../dist/graphiql.css, which the Go package embeds. The output depends only
// on package-lock.json and src/, so a rebuild reproduces it byte for byte.
import { build } from 'esbuild';

await build({
  entryPoints: { graphiql: 'src/index.jsx' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  jsx: 'automatic',
  outdir: '../dist',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'warning',
});
