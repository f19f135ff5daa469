// Regenerates Vera's built-in model price table from Pydantic's genai-prices (MIT), a maintained
// public price list. Run from this directory:
//
//   npm ci && node refresh-prices.mjs
//
// and commit the rewritten src/main/resources/io/vera/operator/provider/pricing/genai-prices.json.
// To move to a newer list, bump the pinned version in package.json, run `npm install`, then the
// command above. The operator's build never runs this script and never needs the network.
//
// What is taken from the list, for the providers Vera has clients for (openai, anthropic, google):
// - per model: its id, the USD rates per million tokens for input, output, cache reads and
//   (Anthropic's 5-minute, OpenAI's) cache writes, written as decimal strings so no rate passes
//   through binary floating point on its way to Java's BigDecimal; audio models priced per hour
//   (whisper-1) keep that hourly rate;
// - the ids the list's match rule names literally (its equals / starts_with / ends_with / contains
//   values) as exact aliases, and the rule itself, which Vera applies to other ids (see
//   PricingTable), so a dated id such as gpt-4o-2024-08-06 or gemini-2.5-pro-preview-05-06 finds
//   its model;
// - audio-first models (ids naming transcribe, audio, realtime or live, with an audio input rate):
//   their audio rates, since Vera's token usage does not split tokens by modality; other models'
//   audio or image tokens are charged at the text rates;
// - tiered prices (long-context surcharges): the base tier; prices that change on a date: the one
//   in effect on the day of the refresh; prices by time of day: the unconstrained one.
// An id or alias claimed by an earlier model (the list's own first-match order, providers in the
// order above) is not claimed again. Models the list prices at nothing (no rates at all) are free,
// at 0; models with other rates only (per request, per image) are left out.
// Vera applies each model's match rule as the list does, first match in this order, to ids no entry
// names exactly (PricingTable).
import { findProvider } from '@pydantic/genai-prices';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '../../main/resources/io/vera/operator/provider/pricing/genai-prices.json');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(
  readFileSync(join(dirname(require.resolve('@pydantic/genai-prices')), '..', 'package.json'), 'utf8'),
);
const licenseText = readFileSync(
  join(dirname(require.resolve('@pydantic/genai-prices')), '..', 'LICENSE'),
  'utf8',
).trim();
const today = new Date().toISOString().slice(0, 10);
const PROVIDERS = ['openai', 'anthropic', 'google'];

/** A rate as the shortest decimal string that reads back as the same number; tiers give their base. */
function rate(value) {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'object' ? value.base : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
    throw new Error(`unexpected rate ${JSON.stringify(value)}`);
  }
  return String(n);
}

/** The prices in effect today: the last unconstrained or already started entry. */
function current(prices) {
  if (!Array.isArray(prices)) return prices;
  let chosen;
  for (const entry of prices) {
    const c = entry.constraint;
    if (!c || (c.type === 'start_date' && c.start_date <= today)) chosen = entry.prices;
  }
  return chosen;
}

/** The literal ids a match rule names; fragments such as "claude-sonnet-4@" are not ids. */
function literals(match, into = []) {
  if (!match || typeof match !== 'object') return into;
  for (const [kind, value] of Object.entries(match)) {
    if (kind === 'or' || kind === 'and') value.forEach((m) => literals(m, into));
    else if (['equals', 'starts_with', 'ends_with', 'contains'].includes(kind)) {
      if (/^[a-z0-9][a-z0-9.:_/-]*[a-z0-9]$/i.test(value)) into.push(value.toLowerCase());
    }
  }
  return into;
}

const claimed = new Set();
const models = [];
const perProvider = {};
for (const providerId of PROVIDERS) {
  const provider = findProvider({ providerId });
  if (!provider) throw new Error(`provider ${providerId} missing from genai-prices ${pkg.version}`);
  perProvider[providerId] = 0;
  for (const model of provider.models) {
    const id = model.id.toLowerCase();
    if (claimed.has(id)) continue;
    const p = current(model.prices) ?? {};
    const entry = { id, provider: providerId };
    // Vera's usage does not split tokens by modality, so an audio-first model (transcription,
    // realtime, audio chat, live) is priced at its audio rates, the text ones would undercharge.
    const audioFirst = /transcribe|audio|realtime|live/.test(id) && p.input_audio_mtok !== undefined;
    if (p.input_mtok !== undefined) {
      entry.input = rate(audioFirst ? p.input_audio_mtok : p.input_mtok);
      // embeddings have no output tokens
      entry.output = rate((audioFirst && p.output_audio_mtok) || p.output_mtok) ?? '0';
      const cacheRead = rate(audioFirst ? p.cache_audio_read_mtok : p.cache_read_mtok);
      const cacheWrite = rate(p.cache_write_mtok);
      if (cacheRead !== undefined) entry.cachedInput = cacheRead;
      if (cacheWrite !== undefined) entry.cacheWrite = cacheWrite;
    } else if (p.input_audio_hours !== undefined || p.audio_hours !== undefined) {
      entry.perAudioHour = rate(p.input_audio_hours ?? p.audio_hours);
    } else if (Object.keys(p).length === 0) {
      // The list prices these at nothing (moderation, Gemma on the Gemini API): free, not unknown.
      entry.input = '0';
      entry.output = '0';
    } else {
      continue;
    }
    const aliases = [...new Set(literals(model.match))].filter((a) => a !== id && !claimed.has(a));
    claimed.add(id);
    aliases.forEach((a) => claimed.add(a));
    if (aliases.length) entry.aliases = aliases;
    entry.match = model.match;
    models.push(entry);
    perProvider[providerId]++;
  }
}

const data = {
  source: {
    package: `${pkg.name}@${pkg.version}`,
    project: pkg.homepage,
    license: pkg.license,
    licenseText, // MIT asks for its notice to travel with copies of the data
    refreshed: today,
    command: 'cd src/build/prices && npm ci && node refresh-prices.mjs',
    notes:
      'USD per million tokens (perAudioHour: per hour of audio). Base tier of tiered prices; ' +
      'the price in effect on the refresh date; Anthropic cacheWrite is the 5-minute rate; ' +
      'audio-first models (transcribe, audio, realtime, live) at their audio rates. ' +
      'Generated: edit refresh-prices.mjs, not this file.',
    models: perProvider,
  },
  models,
};
// One model a line, so a refresh reads as a diff of the models that changed.
const text =
  `{\n "source": ${JSON.stringify(data.source, null, 1).replace(/\n/g, '\n ')},\n "models": [\n` +
  models.map((m) => `  ${JSON.stringify(m)}`).join(',\n') +
  '\n ]\n}\n';
JSON.parse(text);
writeFileSync(out, text);
console.log(`wrote ${models.length} models (${JSON.stringify(perProvider)}) to ${out}`);
