// A JSON Schema validator for the subset of keywords the OpenAPI document uses, and the lookup of the response
// schema an operation documents for a status. Tests use it to hold the API to its document, both for the
// requests the parser accepts and for every response the daemon sends.

export type Schema = Record<string, unknown>;
export interface ApiDocument {
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, Record<string, unknown>>;
}

/**
 * An OpenAPI extension keyword of arrays of objects: no two items may agree on all of the named properties (a
 * property's schema default standing in where an item leaves it out). JSON Schema's uniqueItems compares whole
 * items only, and two forwards of one host port to different guest ports must be refused too.
 */
const UNIQUE_BY = 'x-unique-by';

/** Keywords that only describe; everything else must be understood below, or the validator refuses the schema. */
const ANNOTATIONS = new Set(['description', 'default', 'title']);
const KNOWN = new Set([
  '$ref', 'type', 'properties', 'required', 'additionalProperties', 'minimum', 'maximum', 'pattern', 'items', 'enum', 'const',
  'not', 'minLength', 'maxLength', 'maxItems', 'minProperties', 'dependentSchemas', 'anyOf', UNIQUE_BY,
]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Follows a local JSON pointer ($ref "#/components/…"); undefined when it leads nowhere. */
export function schemaPointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
  let at: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'object': return isObject(v);
    case 'array': return Array.isArray(v);
    case 'string': return typeof v === 'string';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'boolean': return typeof v === 'boolean';
    case 'null': return v === null;
    default: throw new Error(`validator: unknown type ${type}`);
  }
}

/** Checks `v` against `s` (with $refs into `doc`); null when it conforms, else where and why not. */
export function validateSchema(doc: unknown, s: Schema, v: unknown, at = '$'): string | null {
  for (const k of Object.keys(s)) if (!KNOWN.has(k) && !ANNOTATIONS.has(k)) throw new Error(`validator: unsupported keyword ${k}`);
  if (typeof s.$ref === 'string') {
    const target = schemaPointer(doc, s.$ref);
    if (target === undefined) throw new Error(`validator: $ref ${s.$ref} leads nowhere`);
    const e = validateSchema(doc, target as Schema, v, at);
    if (e) return e;
  }
  if (typeof s.type === 'string' && !typeOk(s.type, v)) return `${at}: expected ${s.type}, got ${JSON.stringify(v)}`;
  if (s.enum && !(s.enum as unknown[]).some((e) => same(e, v))) return `${at}: ${JSON.stringify(v)} is not one of ${JSON.stringify(s.enum)}`;
  if ('const' in s && !same(s.const, v)) return `${at}: expected ${JSON.stringify(s.const)}`;
  if (s.not && validateSchema(doc, s.not as Schema, v, at) === null) return `${at}: matches a schema it must not`;
  if (s.anyOf && !(s.anyOf as Schema[]).some((alt) => validateSchema(doc, alt, v, at) === null)) return `${at}: matches none of anyOf`;
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && v < s.minimum) return `${at}: ${v} < minimum ${s.minimum}`;
    if (typeof s.maximum === 'number' && v > s.maximum) return `${at}: ${v} > maximum ${s.maximum}`;
  }
  if (typeof v === 'string') {
    const n = [...v].length; // JSON Schema counts code points
    if (typeof s.minLength === 'number' && n < s.minLength) return `${at}: shorter than ${s.minLength}`;
    if (typeof s.maxLength === 'number' && n > s.maxLength) return `${at}: longer than ${s.maxLength}`;
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v)) return `${at}: does not match ${s.pattern}`;
  }
  if (Array.isArray(v)) {
    if (typeof s.maxItems === 'number' && v.length > s.maxItems) return `${at}: more than ${s.maxItems} items`;
    if (s.items) {
      for (let i = 0; i < v.length; i++) {
        const e = validateSchema(doc, s.items as Schema, v[i], `${at}[${i}]`);
        if (e) return e;
      }
    }
    if (Array.isArray(s[UNIQUE_BY])) {
      const e = uniqueBy(doc, s, v, at);
      if (e) return e;
    }
  }
  if (isObject(v)) {
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const r of (s.required ?? []) as string[]) if (!Object.hasOwn(v, r)) return `${at}: missing ${r}`;
    if (typeof s.minProperties === 'number' && Object.keys(v).length < s.minProperties) return `${at}: fewer than ${s.minProperties} properties`;
    for (const [k, x] of Object.entries(v)) {
      let e: string | null = null;
      if (Object.hasOwn(props, k)) e = validateSchema(doc, props[k], x, `${at}.${k}`);
      else if (s.additionalProperties === false) e = `${at}: unexpected property ${k}`;
      else if (isObject(s.additionalProperties)) e = validateSchema(doc, s.additionalProperties, x, `${at}.${k}`);
      if (e) return e;
    }
    for (const [k, dep] of Object.entries((s.dependentSchemas ?? {}) as Record<string, Schema>)) {
      if (Object.hasOwn(v, k)) {
        const e = validateSchema(doc, dep, v, at);
        if (e) return e;
      }
    }
  }
  return null;
}

function uniqueBy(doc: unknown, s: Schema, v: unknown[], at: string): string | null {
  let items = s.items as Schema | undefined;
  if (typeof items?.$ref === 'string') items = schemaPointer(doc, items.$ref) as Schema;
  const props = (items?.properties ?? {}) as Record<string, Schema>;
  const seen = new Set<string>();
  for (let i = 0; i < v.length; i++) {
    const item = v[i] as Record<string, unknown>;
    const key = JSON.stringify((s[UNIQUE_BY] as string[]).map((k) => (Object.hasOwn(item, k) ? item[k] : props[k]?.default)));
    if (seen.has(key)) return `${at}[${i}]: repeats an earlier item's ${(s[UNIQUE_BY] as string[]).join(', ')}`;
    seen.add(key);
  }
  return null;
}

/**
 * The documented response of `method path` for `status`: { schema } for a JSON body, { schema: null } for a
 * response without a JSON body; throws when the document has no such operation or status.
 */
export function documentedResponse(doc: ApiDocument, method: string, path: string, status: number): { schema: Schema | null; contentType?: string } {
  const template = Object.keys(doc.paths).find((p) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));
  if (!template) throw new Error(`${method} ${path}: no such path in the document`);
  const op = doc.paths[template][method.toLowerCase()] as { responses?: Record<string, unknown> } | undefined;
  if (!op?.responses) throw new Error(`${method} ${template}: no such operation in the document`);
  let r = op.responses[String(status)] as Schema | undefined;
  if (!r) throw new Error(`${method} ${template}: status ${status} is not documented`);
  if (typeof r.$ref === 'string') r = schemaPointer(doc, r.$ref) as Schema;
  const content = r.content as Record<string, { schema?: Schema }> | undefined;
  if (!content) return { schema: null };
  const [contentType, media] = Object.entries(content)[0];
  return { schema: media.schema ?? null, contentType };
}
