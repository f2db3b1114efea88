// Fails when src/schema.d.ts is not what `npm run generate` makes of ../../openapi.yaml today:
// the contract changed and the client was not regenerated (or the file was edited by hand).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "client-schema-"));
const fresh = join(dir, "schema.d.ts");
try {
  execFileSync(
    process.execPath,
    ["node_modules/openapi-typescript/bin/cli.js", "../../openapi.yaml", "--default-non-nullable", "false", "--output", fresh],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  if (readFileSync(fresh, "utf8") !== readFileSync("src/schema.d.ts", "utf8")) {
    console.error("clients/typescript/src/schema.d.ts is stale: openapi.yaml changed. Run `npm run generate` in clients/typescript and commit the result.");
    process.exit(1);
  }
  console.error("clients/typescript/src/schema.d.ts matches openapi.yaml");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
