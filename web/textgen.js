// Generate text in the browser from a model exported by `textgen export-tfjs` (textgen_helpers/export.py).
//
// The model is loaded as a standard TensorFlow.js LayersModel; generation then runs its LSTM cells
// one character at a time with TensorFlow.js ops, carrying each layer's state (h, c) from one
// character to the next, as textgen_helpers' FastGenerator does in Python: the seed (its last
// sample_len characters, as Bundle.generate reads it) is fed through once, and each new character
// costs one step, never a re-read of the window. Temperature 0 takes the argmax; T > 0 draws from
// softmax(logits / T).
//
// Query parameters: ?model=URL (the exported folder, default "model/"), ?backend=cpu|webgl
// (default cpu), ?seed=N (the random seed of every draw; default: a new one each time).

import * as tf from "./node_modules/@tensorflow/tfjs/dist/tf.fesm.min.js";

export { tf };

const YIELD_EVERY = 64; // characters between redraws of the page while generating

/** Load the exported folder at `baseUrl`: the LayersModel and its textgen.json, as a Generator. */
export async function loadGenerator(baseUrl) {
  const base = new URL(baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`, location.href);
  const settingsResponse = await fetch(new URL("textgen.json", base));
  if (!settingsResponse.ok) {
    throw new Error(`no export at ${base.pathname} (${new URL("textgen.json", base).pathname}: HTTP ` +
      `${settingsResponse.status}); write one with \`make web\` or \`textgen export-tfjs BUNDLE web/model\``);
  }
  const settings = await settingsResponse.json();
  const model = await tf.loadLayersModel(new URL(settings.model || "model.json", base).href);
  return new Generator(model, settings);
}

/** The model's LSTM cells and output layer, run one character at a time with the state carried. */
export class Generator {
  constructor(model, settings) {
    this.model = model;
    this.settings = settings;
    this.vocab = settings.vocab;
    this.index = new Map(this.vocab.map((char, id) => [char, id]));
    let embedding = null;
    const lstms = [];
    let dense = null;
    for (const layer of model.layers) {
      const kind = layer.getClassName();
      if (kind === "InputLayer" || kind === "Dropout") continue; // dropout is off when generating
      if (kind === "Embedding" && embedding === null && lstms.length === 0) embedding = layer;
      else if (kind === "LSTM" && dense === null) lstms.push(layer);
      else if (kind === "Dense" && dense === null && lstms.length > 0) dense = layer;
      else throw new Error(`the page runs one-hot or embedding -> LSTMs -> Dense models; layer ${layer.name} (${kind}) is not one`);
    }
    if (lstms.length === 0 || dense === null) throw new Error("the model needs at least one LSTM followed by a Dense layer");
    this.sizes = lstms.map((layer) => layer.cell.units);
    this.weights = tf.tidy(() => {
      const layers = lstms.map((layer, k) => {
        const { kernel, recurrent_kernel: recurrent, bias } = named(layer);
        const zeros = tf.zeros([4 * layer.cell.units]);
        if (k > 0) return { input: kernel, recurrent, bias: bias || zeros, cell: layer.cell };
        // The first layer reads one-hot rows: one_hot(id) @ kernel + bias is row `id` of this table.
        const table = embedding ? tf.matMul(named(embedding).embeddings, kernel) : kernel;
        return { table: tf.add(table, bias || zeros), recurrent, cell: layer.cell };
      });
      const { kernel, bias } = named(dense);
      return { layers, dense: { kernel, bias: bias || tf.zeros([dense.units]) } };
    }); // tidy keeps what it returns: the tables and weights live as long as the page
  }

  /** Character ids of `text`; throws naming the characters the model does not know. */
  encode(text) {
    const unknown = [...new Set([...text].filter((char) => !this.index.has(char)))];
    if (unknown.length > 0) {
      throw new Error(`the seed text has ${unknown.length} character${unknown.length === 1 ? "" : "s"} the model ` +
        `does not know: ${unknown.map((c) => JSON.stringify(c)).join(", ")}; remove ${unknown.length === 1 ? "it" : "them"}`);
    }
    return [...text].map((char) => this.index.get(char));
  }

  /** One character through every LSTM: id, state [[h, c] per layer] -> {logits [1, V], state}. */
  step(id, state) {
    return tf.tidy(() => {
      let x = null;
      const next = [];
      this.weights.layers.forEach((w, k) => {
        const [h, c] = state[k];
        const z = k === 0
          ? tf.add(tf.gather(w.table, tf.tensor1d([id], "int32")), tf.matMul(h, w.recurrent))
          : tf.add(tf.add(tf.matMul(x, w.input), tf.matMul(h, w.recurrent)), w.bias);
        const [i, f, g, o] = tf.split(z, 4, 1); // Keras's gate order
        // The activations the loaded model's layer has: model.json names them (sigmoid, tanh).
        const gate = (v) => w.cell.recurrentActivation.apply(v);
        const cNew = tf.add(tf.mul(gate(f), c), tf.mul(gate(i), w.cell.activation.apply(g)));
        const hNew = tf.mul(gate(o), w.cell.activation.apply(cNew));
        next.push([hNew, cNew]);
        x = hNew;
      });
      // Logits before the Dense layer's activation: argmax and softmax(logits / T) need no more.
      const logits = tf.add(tf.matMul(x, this.weights.dense.kernel), this.weights.dense.bias);
      return { logits, state: next };
    });
  }

  zeroState() {
    return this.sizes.map((units) => [tf.zeros([1, units]), tf.zeros([1, units])]);
  }

  /**
   * Continue `seedText` by `length` characters at `temperature`, calling onText(piece) as text is
   * made. Returns {text, seconds}: the generated characters only, and the time spent computing
   * them (priming on the seed included, redraws of the page excluded).
   */
  async generate(seedText, length, temperature, { seed = 0, onText = () => {} } = {}) {
    const ids = this.encode(seedText.slice(-this.settings.sample_len)); // the window Bundle.generate reads
    if (ids.length === 0) throw new Error("the seed text is empty: give at least one character to continue from");
    const random = mulberry32(seed);
    let state = this.zeroState();
    let logits = null;
    let busy = 0;
    let started = performance.now();
    const advance = (id) => {
      const out = this.step(id, state);
      tf.dispose(state.flat());
      if (logits) logits.dispose();
      state = out.state;
      logits = out.logits;
    };
    for (const id of ids) advance(id);
    const out = [];
    let shown = 0;
    try {
      while (out.length < length) {
        const id = pick(logits.dataSync(), temperature, random);
        out.push(this.vocab[id]);
        if (out.length < length) advance(id);
        if (out.length - shown === YIELD_EVERY || out.length === length) {
          busy += performance.now() - started;
          onText(out.slice(shown).join(""));
          shown = out.length;
          await new Promise((resolve) => setTimeout(resolve, 0)); // let the page draw
          started = performance.now();
        }
      }
    } finally {
      tf.dispose(state.flat());
      if (logits) logits.dispose();
    }
    return { text: out.join(""), seconds: busy / 1000 };
  }
}

/** T = 0: the first index of the largest logit (as tf.argmax). T > 0: a draw from softmax(logits / T). */
export function pick(logits, temperature, random) {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  if (temperature === 0) return best;
  const weights = Array.from(logits, (l) => Math.exp((l - logits[best]) / temperature));
  let u = random() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i];
    if (u < 0) return i;
  }
  return best; // u landed on the rounding error at the very end
}

/** A small seeded generator of uniform numbers in [0, 1): the same seed gives the same draws. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function named(layer) {
  // "lstm_1/recurrent_kernel" -> {recurrent_kernel: tensor}
  return Object.fromEntries(layer.weights.map((w) => [w.originalName.split("/").pop(), w.read()]));
}
