// Client-side checks that mirror the server's, so a form says what is wrong before it is sent.

export type Check = { ok: true; value: unknown } | { ok: false; error: string };

function parseObject(text: string): Check {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'must be a JSON object' };
  }
  return { ok: true, value };
}

/** ModelRatio / GroupRatio / CompletionRatio: an object from names to finite numbers. */
export function checkRatioJson(text: string): Check {
  const parsed = parseObject(text);
  if (!parsed.ok) return parsed;
  for (const [name, value] of Object.entries(parsed.value as Record<string, unknown>)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return { ok: false, error: `"${name}" must be a number` };
  }
  return parsed;
}

/** LongContextRatio: model name → a non-empty list of {above, input, output} (as rules.components.tier_table). */
export function checkTierJson(text: string): Check {
  const parsed = parseObject(text);
  if (!parsed.ok) return parsed;
  for (const [name, tiers] of Object.entries(parsed.value as Record<string, unknown>)) {
    if (!Array.isArray(tiers) || tiers.length === 0) return { ok: false, error: `"${name}" must be a non-empty list of tiers` };
    for (const tier of tiers) {
      const keys = tier && typeof tier === 'object' ? Object.keys(tier).sort().join() : '';
      if (keys !== 'above,input,output') return { ok: false, error: `"${name}": each tier needs exactly above, input and output` };
      const { above, input, output } = tier as Record<string, unknown>;
      if (!Number.isInteger(above) || (above as number) < 0) return { ok: false, error: `"${name}": above must be a non-negative integer` };
      if (![input, output].every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
        return { ok: false, error: `"${name}": input and output must be non-negative numbers` };
      }
    }
  }
  return parsed;
}

/** A channel's model mapping: empty, or an object from model names to model names (at most 1024 characters). */
export function checkModelMapping(text: string): Check {
  if (text.trim() === '') return { ok: true, value: {} };
  if (text.length > 1024) return { ok: false, error: 'at most 1024 characters' };
  const parsed = parseObject(text);
  if (!parsed.ok) return parsed;
  for (const [name, value] of Object.entries(parsed.value as Record<string, unknown>)) {
    if (typeof value !== 'string') return { ok: false, error: `"${name}" must map to a model name (a string)` };
  }
  return parsed;
}

/** Any JSON object, or empty. */
export function checkJsonObject(text: string): Check {
  if (text.trim() === '') return { ok: true, value: {} };
  return parseObject(text);
}

function ipv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function ipv6(text: string): boolean {
  return /^[0-9a-fA-F:.]+$/.test(text) && text.includes(':') && (text.match(/::/g) ?? []).length <= 1;
}

/** A token's subnet field: comma-separated CIDRs such as `10.0.0.0/8,::1/128`; empty means any address. */
export function checkSubnets(text: string): string | null {
  if (text.trim() === '') return null;
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const [address, bits, extra] = part.split('/');
    if (extra !== undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return `invalid CIDR: ${part}`;
    const v4 = ipv4(address);
    if (!v4 && !ipv6(address)) return `invalid CIDR: ${part}`;
    if (Number(bits) > (v4 ? 32 : 128)) return `invalid CIDR: ${part}`;
  }
  return null;
}

/** Pretty-printed JSON when `text` parses, else `text` unchanged. */
export function formatJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Splits a comma- or newline-separated list, trimming and dropping blanks and duplicates. */
export function splitList(text: string): string[] {
  const seen = new Set<string>();
  for (const item of text.split(/[,\n]/)) {
    const name = item.trim();
    if (name) seen.add(name);
  }
  return [...seen];
}
