// Drives Vera's /v1 gateway with the official OpenAI SDK, as an application would, and prints
// what the SDK returned (or raised) as one JSON line for OpenAiSdkTest to check.
// Usage: node gateway-client.mjs <baseURL> <chat|stream|models|embeddings|transcription> '<request JSON>'
import OpenAI, { toFile } from 'openai';

const [baseURL, scenario, requestJson] = process.argv.slice(2);
const client = new OpenAI({
  apiKey: process.env.VERA_TOKEN || 'unused-in-embedded-mode',
  baseURL,
  maxRetries: 0,
  timeout: 30_000,
});
const request = JSON.parse(requestJson || '{}');

function describe(error) {
  return {
    name: error.constructor.name,
    status: error.status ?? null,
    message: error.message,
    type: error.type ?? null,
    param: error.param ?? null,
    code: error.code ?? null,
  };
}

async function run() {
  switch (scenario) {
    case 'chat':
      return await client.chat.completions.create(request);
    case 'stream': {
      const stream = await client.chat.completions.create({ ...request, stream: true });
      const chunks = [];
      try {
        for await (const chunk of stream) chunks.push(chunk);
      } catch (error) {
        return { chunks, error: describe(error) };
      }
      return { chunks };
    }
    case 'models': {
      const ids = [];
      for await (const model of client.models.list()) ids.push(model.id);
      return { ids };
    }
    case 'embeddings':
      return await client.embeddings.create(request);
    case 'transcription': {
      // The audio comes as base64 in the request; the SDK uploads it as a multipart file.
      const { audio_base64: audio, file_name: name, ...rest } = request;
      const file = await toFile(Buffer.from(audio, 'base64'), name, { type: 'audio/wav' });
      return await client.audio.transcriptions.create({ ...rest, file });
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

try {
  console.log(JSON.stringify({ ok: true, result: await run() }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: describe(error) }));
}
