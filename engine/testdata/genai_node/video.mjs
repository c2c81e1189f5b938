// Veo with the official JavaScript client (@google/genai) through
// balance: generateVideos, getVideosOperation until done, and
// files.download of every video it made into VIDEO_DIR. It prints what it
// saw as one JSON line; the Go test (files_node_test.go) judges it. Env:
// GENAI_DIR (the npm prefix holding @google/genai), BALANCE_URL,
// BALANCE_TOKEN, VEO_MODEL, VIDEO_DIR.
import { createRequire } from 'node:module';
const { GoogleGenAI } = createRequire(process.env.GENAI_DIR + '/')('@google/genai');

const ai = new GoogleGenAI({ apiKey: process.env.BALANCE_TOKEN, httpOptions: { baseUrl: process.env.BALANCE_URL } });
let op = await ai.models.generateVideos({ model: process.env.VEO_MODEL, prompt: 'a cat surfing', config: { numberOfVideos: 2 } });
let polls = 0;
while (!op.done) {
  if (++polls > 20) throw new Error('the operation never finished');
  op = await ai.operations.getVideosOperation({ operation: op });
}
const videos = [];
for (const [i, v] of op.response.generatedVideos.entries()) {
  const path = `${process.env.VIDEO_DIR}/video${i}.mp4`;
  await ai.files.download({ file: v, downloadPath: path });
  videos.push({ uri: v.video.uri, path });
}
console.log(JSON.stringify({ name: op.name, polls, videos }));
