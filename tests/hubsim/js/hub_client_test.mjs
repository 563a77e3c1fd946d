// Runs @huggingface/hub's listModels and modelInfo against a hubsim serving the real-models set
// and checks they return exactly the models of the source JSONL.
// Usage: node hub_client_test.mjs <path/to/hubsim> <path/to/models.jsonl>
// Fails (never skips) when node_modules is missing: run `npm ci` in this folder first.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [hubsimBin, modelsFile] = process.argv.slice(2);
let passed = 0;
let failed = 0;

function check(condition, what) {
  if (condition) {
    passed++;
  } else {
    failed++;
    console.error(`FAIL: ${what}`);
  }
}

if (!hubsimBin || !modelsFile) {
  console.error("usage: node hub_client_test.mjs <hubsim> <models.jsonl>");
  process.exit(2);
}
if (!existsSync(join(here, "node_modules", "@huggingface", "hub"))) {
  console.error(`FAIL: ${join(here, "node_modules")} is missing: run \`npm ci\` in ${here}`);
  process.exit(1);
}
const { listModels, modelInfo } = await import("@huggingface/hub");

// Expected models: one per `_id`; of two records sharing an `_id` (a repo and its legacy name),
// the namespaced one is served and the other redirects (hubsim/README.md "Loading").
const HUB_FLOOR = Date.parse("2022-03-02T23:29:04.000Z");
const toMs = (s) => (s ? Date.parse(s.replace(" ", "T")) : undefined);
const expected = new Map();
const byOid = new Map();
for (const line of readFileSync(modelsFile, "utf8").split("\n")) {
  if (!line.trim()) continue;
  const rec = JSON.parse(line);
  if (rec._id && byOid.has(rec._id)) {
    const kept = byOid.get(rec._id);
    if (!kept.id.includes("/") && rec.id.includes("/")) {
      expected.delete(kept.id);
    } else {
      continue;
    }
  }
  if (rec._id) byOid.set(rec._id, rec);
  expected.set(rec.id, rec);
}

const dir = mkdtempSync(join(tmpdir(), "hubsim-js-"));
const portFile = join(dir, "port");
const server = spawn(hubsimBin, ["--models", modelsFile, "--port", "0", "--port-file", portFile, "--token", "hf_hubsim_js_test"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const exited = new Promise((resolve) => server.on("exit", (code, signal) => resolve({ code, signal })));
let stdout = "";
server.stdout.on("data", (d) => (stdout += d));

try {
  const deadline = Date.now() + 30000;
  while (!/listening on http:\/\/127\.0\.0\.1:\d+/.test(stdout)) {
    if (Date.now() > deadline) throw new Error("hubsim did not start: " + stdout);
    await new Promise((r) => setTimeout(r, 50));
  }
  const port = readFileSync(portFile, "utf8").trim();
  const hubUrl = `http://127.0.0.1:${port}`;
  check(stdout.includes(`listening on ${hubUrl}`), "banner names the port from --port-file");

  // listModels walks every page through the Link header.
  const seen = new Map();
  let duplicates = 0;
  for await (const m of listModels({ hubUrl, additionalFields: ["sha", "createdAt", "tags"] })) {
    if (seen.has(m.name)) duplicates++;
    seen.set(m.name, m);
  }
  check(duplicates === 0, `no model listed twice (got ${duplicates})`);
  check(seen.size === expected.size, `listModels returned ${seen.size} models, expected ${expected.size}`);
  let mismatches = 0;
  for (const [id, rec] of expected) {
    const m = seen.get(id);
    if (!m) {
      if (mismatches++ < 5) console.error(`missing ${id}`);
      continue;
    }
    const problems = [];
    if (rec._id && m.id !== rec._id) problems.push(`_id ${m.id} != ${rec._id}`);
    if (!/^[0-9a-f]{24}$/.test(m.id)) problems.push(`bad _id ${m.id}`);
    if (m.downloads !== (rec.downloads ?? 0)) problems.push(`downloads ${m.downloads}`);
    if (m.likes !== (rec.likes ?? 0)) problems.push(`likes ${m.likes}`);
    if (m.private !== false) problems.push("private");
    if (m.task !== rec.pipeline_tag) problems.push(`task ${m.task} != ${rec.pipeline_tag}`);
    if (m.gated !== (rec.gated ?? false)) problems.push(`gated ${m.gated}`);
    if (rec.sha ? m.sha !== rec.sha : !/^[0-9a-f]{40}$/.test(m.sha)) problems.push(`sha ${m.sha}`);
    const created = toMs(rec.createdAt) ?? HUB_FLOOR;
    const modified = toMs(rec.lastModified) ?? created;
    if (m.updatedAt.getTime() !== modified) problems.push(`updatedAt ${m.updatedAt.toISOString()}`);
    if (Date.parse(m.createdAt) !== created) problems.push(`createdAt ${m.createdAt}`);
    if (JSON.stringify(m.tags) !== JSON.stringify(rec.tags ?? [])) problems.push("tags");
    if (problems.length && mismatches++ < 5) console.error(`${id}: ${problems.join(", ")}`);
  }
  check(mismatches === 0, `${mismatches} listed models differ from the source`);

  // modelInfo, anonymous and with a token; the token must reach hubsim.
  const bert = await modelInfo({ name: "google-bert/bert-base-uncased", hubUrl, additionalFields: ["sha", "tags"] });
  check(bert.id === "621ffdc036468d709f174338", `bert _id ${bert.id}`);
  check(bert.name === "google-bert/bert-base-uncased", `bert name ${bert.name}`);
  check(bert.task === "fill-mask", `bert task ${bert.task}`);
  check(bert.sha === "86b5e0934494bd15c9632b12f734a8a67f723594", `bert sha ${bert.sha}`);
  const llama = await modelInfo({
    name: "meta-llama/Llama-3.1-8B-Instruct",
    hubUrl,
    accessToken: "hf_hubsim_js_test",
  });
  check(llama.gated === "manual", `llama gated ${llama.gated}`);
  const auth = await (await fetch(`${hubUrl}/_hubsim/auth`)).json();
  check(auth.authorization["Bearer hf_hubsim_js_test"] >= 1, "hubsim saw the Bearer token");

  // Errors surface as exceptions; a renamed id is followed by fetch.
  let threw = false;
  try {
    await modelInfo({ name: "nobody/nothing", hubUrl });
  } catch {
    threw = true;
  }
  check(threw, "modelInfo of a missing repo throws");
  const gpt2 = await modelInfo({ name: "gpt2", hubUrl });
  check(gpt2.name === "openai-community/gpt2", `gpt2 redirect -> ${gpt2.name}`);

  // A filtered listing with the JS client's tag search.
  let gguf = 0;
  for await (const m of listModels({ hubUrl, search: { tags: ["gguf"] }, additionalFields: ["tags"] })) {
    if (!m.tags.includes("gguf")) check(false, `${m.name} listed for tag gguf without it`);
    gguf++;
  }
  const expectedGguf = [...expected.values()].filter((r) => (r.tags ?? []).includes("gguf")).length;
  check(gguf === expectedGguf, `tag filter gguf: ${gguf} vs ${expectedGguf}`);
} catch (e) {
  failed++;
  console.error("FAIL:", e);
} finally {
  server.kill("SIGTERM");
  const { code, signal } = await exited;
  check(code === 0 && signal === null, `hubsim exits cleanly on SIGTERM (code ${code}, signal ${signal})`);
  rmSync(dir, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
