// Validates a SARIF log against the SARIF 2.1.0 JSON schema that @microsoft/jest-sarif ships,
// with ajv. Usage: node validate_sarif.mjs FILE (exit 1, with the errors, when it is invalid).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Ajv = require('ajv');
const schema = require('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');

const log = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// The schema is draft-04, which ajv 6 knows but does not load by default.
const ajv = new Ajv({ allErrors: true, schemaId: 'auto' });
ajv.addMetaSchema(require('ajv/lib/refs/json-schema-draft-04.json'));
const validate = ajv.compile(schema);
if (!validate(log)) {
  console.log(JSON.stringify(validate.errors, null, 2));
  process.exit(1);
}
