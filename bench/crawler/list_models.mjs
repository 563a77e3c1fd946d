// The comparison side of bench/crawler/run.sh: @huggingface/hub's listModels walking a hubsim
// listing (sort=lastModified, its own page size of 500), parsing every page and storing nothing.
// Usage: NODE_PATH=<dir with node_modules> node list_models.mjs <hubUrl> <field,field,...>
// Prints one JSON line: {"models", "seconds", "fields"}.
import { createRequire } from "node:module";
import { join } from "node:path";

const [hubUrl, fieldList] = process.argv.slice(2);
if (!hubUrl || fieldList === undefined) {
  console.error("usage: node list_models.mjs <hubUrl> <field,field,...>");
  process.exit(2);
}
// ESM ignores NODE_PATH, so resolve the package from the bench's npm copy explicitly.
const require = createRequire(join(process.env.NODE_PATH ?? process.cwd(), "noop.js"));
const { listModels } = await import(require.resolve("@huggingface/hub"));

const additionalFields = fieldList ? fieldList.split(",") : [];
const started = process.hrtime.bigint();
let models = 0;
let withSha = 0;  // touches a requested field so the parse cannot be skipped
for await (const model of listModels({ hubUrl, sort: "lastModified", additionalFields })) {
  models++;
  if (model.sha) withSha++;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ models, with_sha: withSha, seconds, fields: additionalFields }));
