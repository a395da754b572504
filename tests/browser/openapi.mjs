// openapi.mjs - validates an OpenAPI document against the OpenAPI
// specification's own schemas (@seriousme/openapi-schema-validator).
// Usage: node openapi.mjs FILE NODE_MODULES; prints "valid VERSION", or
// the errors and exits 1. Driven by tests/e2e/t_openapi.py.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [file, modules] = process.argv.slice(2);
const { Validator } = await import(pathToFileURL(join(modules,
    "@seriousme", "openapi-schema-validator", "index.js")).href);
const validator = new Validator();
const res = await validator.validate(file);
if (!res.valid) {
	console.log(JSON.stringify(res.errors, null, 1));
	process.exit(1);
}
console.log("valid", validator.version);
