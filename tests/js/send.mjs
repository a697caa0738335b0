// Sends the workflow node's requests through the real JS clients (tests/test_node_clients.py runs it).
//
// The node, @n8n/n8n-nodes-langchain 2.41.1 (dist/nodes/llms/LMOpenHuggingFaceInference/
// LmOpenHuggingFaceInference.node.js, supplyData), builds its model as
//     new HuggingFaceInference({ model: modelName, apiKey: credentials.apiKey, ...options, callbacks, onFailedAttempt })
// with LangChain's class from the @langchain/community it pins, and the chain calls model.invoke(prompt).
// The node package itself is too heavy to install for a test (n8n-core, n8n-workflow and a hundred
// integrations), so this script makes exactly that call on the LangChain and the client the release
// pins (package.json), without n8n's callbacks (tracing and the retry handler: they do not touch the request).
// LangChain's retries are off (maxRetries 0) so a refused value is one request, as the capture expects.
//
// Usage: node send.mjs CLIENT < cases.json, where CLIENT is "4.0.5" (the pinned client) or "4.13.30" (the
// newer one), and cases.json is [{"prompt": "...", "options": {<the node's options by their key>}}, ...].
import { readFileSync } from "node:fs";

import { HuggingFaceInference } from "@langchain/community/llms/hf";

const ALIASES = { "4.0.5": "@huggingface/inference", "4.13.30": "huggingface-inference-4-13" };
const client = process.argv[2];
if (!(client in ALIASES)) {
  console.error(`send.mjs: client ${client} is not installed here: choose one of ${Object.keys(ALIASES).join(", ")}`);
  process.exit(2);
}
const { HfInference } = await import(ALIASES[client]);
// LangChain loads the client in HuggingFaceInference.imports(); resolve it to the chosen release, as a
// node release that pinned that client would (the class's own code does the rest).
HuggingFaceInference.imports = async () => ({ HfInference });

const cases = JSON.parse(readFileSync(0, "utf8"));
let failed = 0;
for (const { prompt, options } of cases) {
  const model = new HuggingFaceInference({ apiKey: "hf_test_token", maxRetries: 0, ...options });
  try {
    await model.invoke(prompt);
  } catch {
    failed += 1; // a value the server refuses (HTTP 422): the request it sent is what the test reads
  }
}
console.log(JSON.stringify({ client, cases: cases.length, failed }));
