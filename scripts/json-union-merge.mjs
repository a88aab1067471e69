#!/usr/bin/env node
// git merge driver for the message files (public/locales/*.json): the union of both sides' keys, theirs winning when
// both changed one key, written sorted. Enable locally with:
//   git config merge.json-union.driver 'node scripts/json-union-merge.mjs %O %A %B'
// (.gitattributes names the files). Without it git merges them line by line as usual.
import { readFileSync, writeFileSync } from 'node:fs';

const [base, ours, theirs] = process.argv.slice(2).map((file) => {
  try { return JSON.parse(readFileSync(file, 'utf8')); } catch { return {}; }
});
const merged = { ...ours };
for (const [key, value] of Object.entries(theirs)) {
  if (!(key in ours) || ours[key] === base[key]) merged[key] = value;
}
// A key one side deleted (and the other left as it was) stays deleted.
for (const key of Object.keys(base)) {
  if ((!(key in ours) && theirs[key] === base[key]) || (!(key in theirs) && ours[key] === base[key])) delete merged[key];
}
const sorted = Object.fromEntries(Object.entries(merged).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(process.argv[3], JSON.stringify(sorted, null, 2) + '\n');
