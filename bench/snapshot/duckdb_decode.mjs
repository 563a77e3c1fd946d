// DuckDB's reading of the same file, as the peer figure for the Parquet reader: decode every
// main column (aggregated so nothing is materialized), best of 3, one thread and all threads.
// Also writes the 1%-changed snapshot the import benchmark re-imports (--write-changed OUT).
import { DuckDBInstance } from '@duckdb/node-api';

const [file, flag, changedOut] = process.argv.slice(2);
const query = `SELECT count(*), sum(length(_id)), sum(length(id)), sum(length(author)),
  sum(length(sha)), max(createdAt), max(lastModified), sum(downloads), sum(likes),
  sum(trendingScore), sum(len(tags)), sum(len(siblings)), count(baseModels), count(safetensors),
  sum(length(cardData)), sum(usedStorage), count(private), count(disabled), count(gated),
  count(pipeline_tag), count(library_name), count(downloadsAllTime) FROM read_parquet('${file}')`;

for (const threads of ['1', '2']) {
  const instance = await DuckDBInstance.create(':memory:', { threads });
  const connection = await instance.connect();
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    const start = process.hrtime.bigint();
    const result = await connection.run(query);
    await result.getRows();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  console.log(`duckdb_threads_${threads} ${best.toFixed(3)}`);
}

if (flag === '--write-changed') {
  // 1% of rows get a new commit: sha, lastModified and one more tag.
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run(`COPY (SELECT * REPLACE (
      CASE WHEN hash(id) % 100 = 7 THEN repeat('e', 40) ELSE sha END AS sha,
      CASE WHEN hash(id) % 100 = 7 THEN lastModified + INTERVAL 1 DAY ELSE lastModified END AS lastModified,
      CASE WHEN hash(id) % 100 = 7 THEN list_append(tags, 'bench-changed') ELSE tags END AS tags)
    FROM read_parquet('${file}')) TO '${changedOut}' (FORMAT parquet, COMPRESSION snappy)`);
}
