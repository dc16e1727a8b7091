// Dumps the API's OpenAPI document with the repository's Python and generates the
// TypeScript types from it (src/api/schema.d.ts). Both outputs are build products.
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";
import openapiTS, { astToString } from "openapi-typescript";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const python = process.env.FRAUD_PYTHON ?? resolve(root, "..", ".venv", "bin", "python");
if (!existsSync(python)) {
  console.error(`${python} not found: run \`make install\` in the repository first`);
  process.exit(1);
}
const dump =
  "import orjson; from app.main import create_app; from app.settings import Settings; " +
  "print(orjson.dumps(create_app(Settings()).openapi()).decode())";
const text = execFileSync(python, ["-c", dump], {
  cwd: resolve(root, ".."),
  encoding: "utf8",
  maxBuffer: 64 * 1024 * 1024,
});
const document = JSON.parse(text);
writeFileSync(resolve(root, "openapi.json"), JSON.stringify(document, null, 2));
const ast = await openapiTS(document);
writeFileSync(resolve(root, "src", "api", "schema.d.ts"), astToString(ast));
console.log(`src/api/schema.d.ts from OpenAPI ${document.info?.version ?? ""}`);
