// The Files API with the official JavaScript client (@google/genai)
// through balance: upload, get, list, a generate naming the file (three
// times, so a round-robin pool would try every key), delete, and a get
// after the delete. It prints what it saw as one JSON line; the Go test
// (files_node_test.go) judges it. Env: GENAI_DIR (the npm prefix holding
// @google/genai), BALANCE_URL, BALANCE_TOKEN, UPLOAD_FILE (the file to
// upload).
import { createRequire } from 'node:module';
const { GoogleGenAI, createPartFromUri } = createRequire(process.env.GENAI_DIR + '/')('@google/genai');

const ai = new GoogleGenAI({ apiKey: process.env.BALANCE_TOKEN, httpOptions: { baseUrl: process.env.BALANCE_URL } });
const out = {};
const file = await ai.files.upload({ file: process.env.UPLOAD_FILE, config: { mimeType: 'text/plain', displayName: 'node notes' } });
out.name = file.name;
out.uri = file.uri;
out.size = file.sizeBytes;
out.got = (await ai.files.get({ name: file.name })).name;
out.listed = [];
for await (const f of await ai.files.list({ config: { pageSize: 10 } })) out.listed.push(f.name);
out.answers = [];
for (let i = 0; i < 3; i++) {
  const r = await ai.models.generateContent({
    model: 'gemini-2.5-flash',
    contents: [{ role: 'user', parts: [createPartFromUri(file.uri, file.mimeType), { text: 'summarise' }] }],
  });
  out.answers.push(r.text);
}
await ai.files.delete({ name: file.name });
try {
  await ai.files.get({ name: file.name });
  out.afterDelete = 'still there';
} catch (e) {
  out.afterDelete = e.status ?? String(e);
}
console.log(JSON.stringify(out));
