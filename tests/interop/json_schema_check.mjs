// Interop peer: validates JSON instances against a JSON Schema, for
// tests/interop/json_schema_ajv_interop_test.cc: the kit's generated schemas
// (cc/mcp/json_schema.h) must pass Ajv's draft 2020-12 meta-schema and strict
// checks, and both Ajv 2020 (with ajv-formats) and the validator of MCP's
// TypeScript SDK (what clients check outputSchema with) must accept protobuf's
// own proto3 JSON and reject what they should. Prints one "ok ..." /
// "not ok ...: why" line per check and exits non-zero if any failed (2 if the
// schema does not compile).
//
//   node json_schema_check.mjs SCHEMA.json [VALID.json...] [--invalid INVALID.json...]
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';

const [schemaFile, ...rest] = process.argv.slice(2);
const split = rest.indexOf('--invalid');
const valid = split < 0 ? rest : rest.slice(0, split);
const invalid = split < 0 ? [] : rest.slice(split + 1);
const read = (file) => JSON.parse(readFileSync(file, 'utf8'));

// Strict: unknown keywords and formats, misplaced keywords and ambiguous types
// are errors. Union types (["integer","string"]) are deliberate, and "required"
// names inside "not" (the oneof exclusions) need no local "properties", so
// strictRequired stays off (its default).
const ajv = new Ajv2020({
  strictSchema: true,
  strictNumbers: true,
  strictTypes: true,
  strictTuples: true,
  allowUnionTypes: true,
  allErrors: true,
});
addFormats(ajv);
const schema = read(schemaFile);
const validators = [];
try {
  const validate = ajv.compile(schema);
  validators.push(['ajv2020', (data) => [validate(data), ajv.errorsText(validate.errors)]]);
  const mcp = new AjvJsonSchemaValidator().getValidator(schema);
  validators.push(['mcp-sdk', (data) => {
    const result = mcp(data);
    return [result.valid, result.errorMessage];
  }]);
} catch (e) {
  console.log(`not ok schema ${schemaFile}: ${e.message}`);
  process.exit(2);
}
console.log(`ok schema ${schemaFile}`);

let failures = 0;
const check = (file, expectValid) => {
  const data = read(file);
  for (const [name, validate] of validators) {
    const [ok, errors] = validate(data);
    if (ok === expectValid) {
      console.log(`ok ${name} ${expectValid ? 'valid' : 'invalid'} ${file}`);
    } else {
      failures++;
      console.log(`not ok ${name} ${file}: ${ok ? 'accepted, expected a rejection' : errors}`);
    }
  }
};
valid.forEach((file) => check(file, true));
invalid.forEach((file) => check(file, false));
process.exit(failures === 0 ? 0 : 1);
