// Drives a Prova node's OpenAI-compatible API with the official openai npm client, as an application would,
// and prints what the client saw as one JSON object (read by tests/Prova.Node.Tests/OpenAi/RealClientTests.cs).
//   node client.mjs <node base URL> <model>
import OpenAI from "openai";

const [baseUrl, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: new URL("/v1", baseUrl).href, apiKey: "unused", maxRetries: 0 });
const messages = [
  { role: "system", content: "You answer briefly." },
  { role: "user", content: "Tell me about the city." },
];

const chat = await client.chat.completions.create({ model, messages, max_tokens: 16, seed: 42 });

const stream = await client.chat.completions.create({
  model, messages, max_tokens: 16, seed: 42, stream: true, stream_options: { include_usage: true },
});
let streamed = "";
let finish = null;
let usage = null;
let prova = null;
let chunks = 0;
for await (const chunk of stream) {
  chunks++;
  for (const choice of chunk.choices) {
    streamed += choice.delta?.content ?? "";
    finish = choice.finish_reason ?? finish;
  }
  usage = chunk.usage ?? usage;
  prova = chunk.prova ?? prova;
}

const completion = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 8, seed: 7, temperature: 0 });
let completionStreamed = "";
for await (const chunk of await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 8, seed: 7, temperature: 0, stream: true })) {
  for (const choice of chunk.choices) {
    completionStreamed += choice.text ?? "";
  }
}

let error = null;
try {
  await client.chat.completions.create({ model: "no/such-model", messages });
} catch (e) {
  error = { status: e.status, type: e.type ?? e.error?.type, code: e.code ?? e.error?.code, name: e.constructor.name };
}

const models = await client.models.list();

console.log(JSON.stringify({
  chat: { id: chat.id, content: chat.choices[0].message.content, finish: chat.choices[0].finish_reason, usage: chat.usage, prova: chat.prova },
  stream: { content: streamed, finish, usage, prova, chunks },
  completion: { text: completion.choices[0].text, streamed: completionStreamed, usage: completion.usage },
  error,
  models: models.data.map((m) => ({ id: m.id, object: m.object, owned_by: m.owned_by })),
}));
