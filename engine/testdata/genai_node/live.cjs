// A Live API session with @google/genai's ai.live.connect through balance:
// setup, a text turn, an audio turn, a clean close. It prints what it saw
// as one JSON line; the Go test (TestLiveNodeGenaiSDK) judges it.
// Env: GENAI_DIR (the npm prefix holding @google/genai), BALANCE_URL,
// BALANCE_TOKEN, LIVE_MODEL.
const { createRequire } = require('node:module');
const { GoogleGenAI, Modality } = createRequire(process.env.GENAI_DIR + '/')('@google/genai');

async function main() {
  const ai = new GoogleGenAI({
    apiKey: process.env.BALANCE_TOKEN,
    vertexai: false,
    httpOptions: { baseUrl: process.env.BALANCE_URL, apiVersion: 'v1beta' },
  });
  const queue = [];
  let wake = null;
  const push = (m) => {
    queue.push(m);
    if (wake) { const w = wake; wake = null; w(); }
  };
  const next = async () => {
    const deadline = Date.now() + 10000;
    while (!queue.length) {
      if (Date.now() > deadline) throw new Error('no message within 10 s');
      await new Promise((r) => { wake = r; setTimeout(r, 200); });
    }
    return queue.shift();
  };
  const session = await ai.live.connect({
    model: process.env.LIVE_MODEL,
    config: { responseModalities: [Modality.TEXT] },
    callbacks: {
      onmessage: (m) => push({ msg: m }),
      onerror: (e) => push({ error: String(e && e.message ? e.message : e) }),
      onclose: (e) => push({ close: { code: e.code, reason: e.reason } }),
    },
  });
  const out = { setupComplete: false, text: '', audioFrames: 0, audioBytes: 0, close: null, errors: [] };
  // turn reads messages until turnComplete.
  const turn = async () => {
    for (;;) {
      const m = await next();
      if (m.error) { out.errors.push(m.error); continue; }
      if (m.close) { out.close = m.close; throw new Error('closed mid-turn: ' + JSON.stringify(m.close)); }
      const sc = m.msg.serverContent;
      for (const p of (sc && sc.modelTurn && sc.modelTurn.parts) || []) {
        if (p.text) out.text += p.text;
        if (p.inlineData) { out.audioFrames++; out.audioBytes += Buffer.from(p.inlineData.data, 'base64').length; }
      }
      if (sc && sc.turnComplete) return;
    }
  };
  const first = await next();
  out.setupComplete = !!(first.msg && first.msg.setupComplete);

  session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'hello from node' }] }], turnComplete: true });
  await turn();
  const text = out.text;

  out.text = '';
  session.sendRealtimeInput({ audio: { data: Buffer.alloc(3200).toString('base64'), mimeType: 'audio/pcm;rate=16000' } });
  await turn();
  out.text = text;

  session.close();
  for (;;) {
    const m = await next();
    if (m.close) { out.close = m.close; break; }
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e && e.stack ? e.stack : e); process.exit(1); });
